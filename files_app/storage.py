"""Where a file's bytes live, for the little code that must know: local disk (Django's
FileSystemStorage) or S3 (django-storages' S3Storage, when `AWS_STORAGE_BUCKET_NAME` is set).
Everything else goes through `default_storage`.

Two things the storage API lacks on S3 are here: writing an object as its bytes arrive (a
multipart upload, one part buffered at a time) and reading one without copying all of it
first (django-storages' S3File downloads the whole object into memory on the first read).
boto3 errors become `StorageUnavailable`, an OSError, which every caller already treats as a
storage failure (retried, or SERVICE_UNAVAILABLE), with a message that names no endpoint,
bucket or key; the details go to the log.
"""

import contextlib
import functools
import io
import logging
from datetime import datetime
from typing import BinaryIO

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import default_storage, storages

from .sizes import MIB
from .streams import PositionedReader

logger = logging.getLogger(__name__)

MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
# S3's smallest part, but for the last one of an object.
MIN_PART_SIZE = 5 * MIB


def is_s3() -> bool:
    return bool(settings.AWS_STORAGE_BUCKET_NAME)


class StorageUnavailable(OSError):
    def __init__(self):
        super().__init__("The file storage is unavailable.")


@contextlib.contextmanager
def s3_errors():
    """boto3's errors as OSErrors: FileNotFoundError for a missing object, else
    StorageUnavailable (S3 unreachable, refusing our keys, or failing)."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_CODES:
            raise FileNotFoundError("The stored object is missing.") from None
        logger.warning("S3 refused a request: %s", error)
        raise StorageUnavailable from None
    except BotoCoreError as error:
        logger.warning("S3 could not be reached: %s", error)
        raise StorageUnavailable from None


def s3_client():
    return default_storage.connection.meta.client


def bucket() -> str:
    return default_storage.bucket_name


def public_client():
    """The client that signs URLs handed to clients: the same keys, but the endpoint a
    browser reaches (`AWS_S3_PUBLIC_ENDPOINT_URL`). The host is part of a v4 signature, so a
    URL signed for `minio:9000` can't just be rewritten to `localhost:9000`. Signing is done
    locally: this client sends no request."""
    endpoint = settings.AWS_S3_PUBLIC_ENDPOINT_URL
    return client_for(endpoint) if endpoint else s3_client()


@functools.lru_cache(maxsize=4)
def client_for(endpoint: str):
    return default_storage._create_session().client(
        "s3",
        region_name=default_storage.region_name,
        endpoint_url=endpoint,
        config=default_storage.client_config,
        verify=default_storage.verify,
    )


def presigned_download_url(key: str, *, parameters: dict) -> str:
    """A GET of the object valid AWS_QUERYSTRING_EXPIRE seconds; `parameters` are S3's
    Response* overrides (the headers the object is answered with)."""
    with s3_errors():
        return public_client().generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket(), "Key": key, **parameters},
            ExpiresIn=settings.AWS_QUERYSTRING_EXPIRE,
        )


def presigned_upload(key: str, *, size: int, expires_in: int) -> dict:
    """A browser-style POST of exactly `size` bytes to `key` (S3 refuses any other size, and
    any other key): {"url": …, "fields": {…}}. The file goes last in the form."""
    with s3_errors():
        return public_client().generate_presigned_post(
            bucket(), key, Conditions=[["content-length-range", size, size]], ExpiresIn=expires_in
        )


def object_stat(key: str) -> tuple[int, str]:
    """(bytes, ETag) of the object under `key`; FileNotFoundError when nothing is."""
    with s3_errors():
        answer = s3_client().head_object(Bucket=bucket(), Key=key)
    return answer["ContentLength"], answer["ETag"]


def object_copy(source: str, target: str, *, etag: str) -> None:
    """Copy `source` to `target` inside the bucket (no byte passes through here), only as it
    was when it had `etag` (S3 and MinIO check the condition; moto ignores it):
    FileNotFoundError if it changed meanwhile. One request: enough for anything a presigned
    POST can send (5 GiB)."""
    with s3_errors():
        try:
            s3_client().copy_object(
                Bucket=bucket(),
                Key=target,
                CopySource={"Bucket": bucket(), "Key": source},
                CopySourceIfMatch=etag,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            raise FileNotFoundError("The object changed while it was copied.") from None


def object_head(key: str, size: int) -> bytes:
    """The first `size` bytes of the object (one ranged GET)."""
    with s3_errors():
        body = s3_client().get_object(Bucket=bucket(), Key=key, Range=f"bytes=0-{size - 1}")
        return body["Body"].read()


@functools.cache
def quick_storage(timeout: float):
    """A storage configured like the default one, whose client gives up after `timeout`
    seconds without retrying (the default one retries for minutes when S3 is unreachable)."""
    options = storages.backends["default"].get("OPTIONS", {})
    return type(default_storage)(
        **options,
        client_config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1},
            signature_version=settings.AWS_S3_SIGNATURE_VERSION,
        ),
    )


def bucket_check(*, timeout: float) -> None:
    """HEAD the bucket; raises when it does not answer within about `timeout` seconds."""
    quick = quick_storage(timeout)
    quick.connection.meta.client.head_bucket(Bucket=quick.bucket_name)


class MultipartUpload:
    """An S3 object written part by part as its bytes arrive: what it holds in memory is the
    part being filled (`S3_UPLOAD_PART_SIZE`, plus one incoming chunk). Nothing exists under
    its key until `complete()`; `abort()` drops the parts sent so far. With an `upload_id`
    (and its `parts`), one started earlier goes on, maybe in another process (tus)."""

    def __init__(self, key: str, upload_id: str | None = None, parts: list | None = None):
        self.key = key
        self.client = s3_client()
        self.buffer = bytearray()
        self.parts: list[dict] = list(parts or [])
        self.finished = False
        self.upload_id = upload_id
        if upload_id is None:
            with s3_errors():
                self.upload_id = self.client.create_multipart_upload(Bucket=bucket(), Key=key)[
                    "UploadId"
                ]

    def write(self, data) -> None:
        self.buffer += data
        if len(self.buffer) >= settings.S3_UPLOAD_PART_SIZE:
            self.send_part()

    def send_part(self) -> None:
        number = len(self.parts) + 1
        with s3_errors():
            answer = self.client.upload_part(
                Bucket=bucket(),
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=bytes(self.buffer),
            )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.buffer.clear()

    def complete(self) -> str:
        """The object appears under its key, whole; returns the key."""
        if self.buffer or not self.parts:  # the last part may be smaller than the others
            self.send_part()
        with s3_errors():
            self.client.complete_multipart_upload(
                Bucket=bucket(),
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        self.finished = True
        return self.key

    def abort(self) -> None:
        """Drop the parts unless completed. Never raises: it runs on the way out of a request
        that may have failed because S3 did (the storage audit lists what is left)."""
        self.buffer = bytearray()
        if self.finished:
            return
        self.finished = True
        multipart_upload_abort_quietly(self.key, self.upload_id)


class ObjectReader(PositionedReader):
    """A seekable, read-only view of an S3 object. Reads in order share one GET's body; a
    seek elsewhere drops it, and the next read asks for the rest of the object from there (a
    ranged GET), so processors that jump about (zip directories, image headers) work too."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key
        self.client = s3_client()
        self.position = 0
        self.body = None
        with s3_errors():
            self.size = self.client.head_object(Bucket=bucket(), Key=key)["ContentLength"]

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self.target(offset, whence)
        if position != self.position:
            self.drop_body()
            self.position = position
        return position

    def readinto(self, buffer) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        with s3_errors():
            if self.body is None:
                self.body = self.client.get_object(
                    Bucket=bucket(), Key=self.key, Range=f"bytes={self.position}-"
                )["Body"]
            data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def drop_body(self) -> None:
        if self.body is not None:
            with contextlib.suppress(Exception):
                self.body.close()
            self.body = None

    def close(self) -> None:
        self.drop_body()
        super().close()


def open_stream(name: str, *, buffer_size: int) -> BinaryIO:
    """The stored bytes as a seekable stream read in chunks: never whole into memory, and
    never through `.path` (S3 has none)."""
    if is_s3():
        return io.BufferedReader(ObjectReader(name), buffer_size=buffer_size)
    return default_storage.open(name, "rb")


def abandoned_multipart_uploads(prefix: str, *, before: datetime) -> list[tuple[str, str]]:
    """(key, upload id) of the multipart uploads under `prefix` started before `before`: left
    by a web process that died mid-upload (a refused upload aborts its own)."""
    found = []
    with s3_errors():
        pages = (
            s3_client()
            .get_paginator("list_multipart_uploads")
            .paginate(Bucket=bucket(), Prefix=prefix)
        )
        for page in pages:
            found += [
                (upload["Key"], upload["UploadId"])
                for upload in page.get("Uploads", [])
                if upload["Initiated"] < before
            ]
    return found


def multipart_upload_abort(key: str, upload_id: str) -> None:
    with s3_errors():
        s3_client().abort_multipart_upload(Bucket=bucket(), Key=key, UploadId=upload_id)


def multipart_upload_abort_quietly(key: str, upload_id: str) -> None:
    """For clean-ups: a failure is logged (the storage audit lists what is left)."""
    try:
        multipart_upload_abort(key, upload_id)
    except OSError:
        logger.warning("Could not abort the multipart upload of %s", key)
