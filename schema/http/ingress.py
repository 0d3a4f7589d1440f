"""The upload ingress: a GraphQL multipart body parsed as it arrives, each file part written
once, straight into the storage folder, every limit enforced on each chunk.

Django's own handling spools the whole body to a temporary file before any check, then
writes each part again; here nothing is buffered beyond one part's write buffer and the small
`operations` and `map` fields. The caller (schema/http/endpoint.py) authenticates and refuses an
over-limit `Content-Length` before the first byte of the body is read.

A file part becomes an `IncomingFile`, one kind per storage:
- on local disk, `DiskIncomingFile` writes `MEDIA_ROOT/.incoming/<random>.part`; storing it
  (`services.files_create`) is a rename into `uploads/`;
- on S3, `S3IncomingFile` streams into a multipart upload under the file's final key
  (`uploads/<owner>/<uuid>`, the id chosen before the first byte), one part in memory at a
  time; storing it completes the upload. A final key rather than a temporary one plus a
  server-side copy: the copy would read and write every byte again (S3 bills it, and
  objects above 5 GiB need a multipart copy), and nothing is visible there before completion
  anyway.
Whatever is left when the request ends (refused, broken, or failed) is removed by
`discard()` before the answer is sent: the part file, or the multipart upload (aborted).
"""

import contextlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from files_app import services, storage
from files_app.models import INCOMING_FOLDER, stored_name
from files_app.processors.sniff import SNIFF_BYTES
from files_app.sizes import MIB, human_size

from ..errors import EdgeError, ErrorCode
from ..graphql.scalars import MULTIPART_SPEC
from .multipart import (
    MAP,
    OPERATIONS,
    check_path,
    parse_map,
    parse_operations,
    put_file_at,
)

# Bytes a file part holds in memory before they go to disk (one buffer per request: parts
# arrive one after the other).
WRITE_BUFFER_SIZE = MIB
# Room for each part's boundary and headers when bounding a whole request's size.
PART_OVERHEAD = 16 * 1024
MAX_PART_HEADERS = 8
MAX_PART_HEADER_SIZE = 4096


def incoming_dir() -> Path:
    """Inside MEDIA_ROOT, so storing a finished part is a rename on the same disk."""
    path = Path(settings.MEDIA_ROOT) / INCOMING_FOLDER
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class UploadLimits:
    max_file_size: int
    max_files: int
    max_fields_size: int
    # What the user's rate limit and storage quota still allow (None: unlimited).
    files_left: int | None = None
    bytes_left: int | None = None
    owner_id: int | None = None  # whose files these are: their S3 keys are chosen up front
    # The request's reservation (services/reservations.py): storing its files does not count
    # the bytes it holds a second time.
    reservation_id: uuid.UUID | None = None

    @property
    def max_request_size(self) -> int:
        files = self.max_files if self.files_left is None else min(self.max_files, self.files_left)
        file_bytes = files * self.max_file_size
        if self.bytes_left is not None:
            file_bytes = min(file_bytes, self.bytes_left)
        return file_bytes + self.max_fields_size + (files + 2) * PART_OVERHEAD

    @property
    def quota_binds(self) -> bool:
        """Whether what the quota leaves (beside the uploads in flight), not the size limit,
        is what bounds this request."""
        files = self.max_files if self.files_left is None else min(self.max_files, self.files_left)
        return self.bytes_left is not None and self.bytes_left < files * self.max_file_size


class IncomingFile(UploadedFile):
    """A file part being written where it will be stored: `write` each chunk, `finish` when
    the part ends (then it reads as its first bytes at least, for sniffing), `discard` on the
    way out of the request."""

    def __init__(self, client_name: str):
        # The display name is sanitised here already: Django's own check refuses names like
        # "" or "..", which the service would store as "unnamed".
        super().__init__(file=None, name=services.sanitize_file_name(client_name), size=0)


class DiskIncomingFile(IncomingFile):
    """A file part being written to its temporary name in the storage folder."""

    def __init__(self, client_name: str):
        super().__init__(client_name)
        self.path = incoming_dir() / f"{uuid.uuid4().hex}.part"
        self.writer = open(self.path, "xb", buffering=WRITE_BUFFER_SIZE)

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.size += len(data)

    def finish(self) -> None:
        """All bytes are in: close the writer, open for reading (sniffing, storing)."""
        self.writer.close()
        self.file = open(self.path, "rb")

    def temporary_file_path(self) -> str:
        """FileSystemStorage moves a file that has one instead of copying it."""
        return str(self.path)

    def discard(self) -> None:
        """Close, and remove the bytes unless storing already moved them away. Never raises:
        it runs on the way out of a request that may have failed because the disk did."""
        with contextlib.suppress(OSError):
            self.writer.close()  # flushes its buffer: fails again on a full disk
        if self.file is not None:
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


class S3IncomingFile(IncomingFile):
    """A file part streamed into an S3 multipart upload under its final key; it keeps only
    the first bytes (sniffing) besides the part being filled. `services.files_create` stores
    it by `complete()` and gives its row `file_id`."""

    def __init__(self, client_name: str, owner_id: int):
        super().__init__(client_name)
        self.file_id = uuid.uuid4()
        self.head = bytearray()
        self.upload = storage.MultipartUpload(stored_name(owner_id, self.file_id))
        self.key = self.upload.key

    def write(self, data) -> None:
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        self.upload.write(data)
        self.size += len(data)

    def finish(self) -> None:
        self.file = io.BytesIO(self.head)

    def complete(self) -> str:
        return self.upload.complete()

    def discard(self) -> None:
        self.upload.abort()


def incoming_file(client_name: str, limits: UploadLimits) -> IncomingFile:
    if storage.is_s3():
        incoming = S3IncomingFile(client_name, limits.owner_id)
    else:
        incoming = DiskIncomingFile(client_name)
    incoming.reservation_id = limits.reservation_id
    return incoming


def part_disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
    """(field name, file name or None) from a part's Content-Disposition."""
    kind, params = parse_options_header(headers.get(b"content-disposition", b""))
    if kind != b"form-data" or b"name" not in params:
        raise EdgeError.invalid_upload(
            "A multipart part has no `Content-Disposition: form-data; name=…`."
        )
    name = params[b"name"].decode("utf-8", "replace")
    filename = params.get(b"filename")
    return name, None if filename is None else filename.decode("utf-8", "replace")


class MultipartIngress:
    """Feed it the body chunk by chunk; `finish()` returns `operations` with each mapped
    null replaced by its IncomingFile. Any rule broken raises EdgeError at once, from
    `feed`, so the request is answered without reading the rest of its body."""

    def __init__(self, boundary: bytes, limits: UploadLimits):
        self.limits = limits
        try:
            self.parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self.on_part_begin,
                    "on_header_field": self.on_header_field,
                    "on_header_value": self.on_header_value,
                    "on_header_end": self.on_header_end,
                    "on_headers_finished": self.on_headers_finished,
                    "on_part_data": self.on_part_data,
                    "on_part_end": self.on_part_end,
                },
                max_header_count=MAX_PART_HEADERS,
                max_header_size=MAX_PART_HEADER_SIZE,
            )
        except ValueError as error:
            raise EdgeError.invalid_upload(f"Malformed multipart request: {error}") from None
        self.operations: dict | None = None
        self.paths: dict[str, str] | None = None  # part name -> the path it fills
        self.files: dict[str, IncomingFile] = {}
        self.fields_seen: set[str] = set()
        self.fields_size = 0
        self.file_bytes = 0
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.part_name = ""
        self.file: IncomingFile | None = None
        self.field: bytearray | None = None

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except MultipartParseError as error:
            raise EdgeError.invalid_upload(f"Malformed multipart request: {error}") from None

    def finish(self) -> dict:
        if self.parser.state != MultipartState.END:
            raise EdgeError.invalid_upload("The multipart body ended before its closing boundary.")
        if self.operations is None or self.paths is None:
            raise self.missing_fields()
        for part_name, path in self.paths.items():
            if part_name not in self.files:
                raise EdgeError.invalid_upload(
                    f"map names the part {part_name!r}, which was not sent as a file."
                )
            put_file_at(self.operations, path, self.files[part_name])
        return self.operations

    def missing_fields(self) -> EdgeError:
        """A file came (or the body ended) before `operations` or `map`: name the missing one."""
        missing = OPERATIONS if self.operations is None else MAP
        return EdgeError.invalid_upload(
            f"The `{missing}` field is missing: a multipart request sends `{OPERATIONS}`, then "
            f"`{MAP}`, then the files ({MULTIPART_SPEC})."
        )

    def discard(self) -> None:
        for file in self.files.values():
            file.discard()

    # --- parser callbacks -------------------------------------------------------------

    def on_part_begin(self) -> None:
        self.headers = {}
        self.file = self.field = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        self.part_name, filename = part_disposition(self.headers)
        if filename is None:
            self.begin_field()
        else:
            self.begin_file(filename)

    def begin_field(self) -> None:
        name = self.part_name
        if name in self.fields_seen or name in self.files:
            raise EdgeError.invalid_upload(f"The `{name}` field was sent more than once.")
        if name == MAP and self.operations is None:
            raise EdgeError.invalid_upload(f"The `{OPERATIONS}` field must come before `{MAP}`.")
        self.fields_seen.add(name)
        self.field = bytearray()

    def begin_file(self, filename: str) -> None:
        name = self.part_name
        if self.paths is None:
            raise self.missing_fields()
        if name not in self.paths:
            raise EdgeError.invalid_upload(f"The part {name!r} is not named in `map`.")
        if name in self.files or name in self.fields_seen:
            raise EdgeError.invalid_upload(f"The part {name!r} was sent more than once.")
        self.file = self.files[name] = incoming_file(filename, self.limits)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self.file is not None:
            self.check_file_size(self.file.size + size, self.file_bytes + size)
            self.file_bytes += size
            # A view, not a slice: copying each chunk once more cost a tenth of a big upload.
            self.file.write(memoryview(data)[start:end])
        elif self.field is not None:
            self.fields_size += size
            if self.fields_size > self.limits.max_fields_size:
                raise EdgeError(
                    f"The non-file fields are larger than "
                    f"{human_size(self.limits.max_fields_size)}.",
                    ErrorCode.BAD_USER_INPUT,
                    status=413,
                )
            self.field += data[start:end]

    def check_file_size(self, file_size: int, request_file_bytes: int) -> None:
        limits = self.limits
        if file_size > limits.max_file_size:
            raise EdgeError(
                f"{self.file.name} is larger than the {human_size(limits.max_file_size)} limit "
                "for one file.",
                ErrorCode.FILE_TOO_LARGE,
            )
        if limits.bytes_left is not None and request_file_bytes > limits.bytes_left:
            raise EdgeError(
                f"This upload would take you past your storage quota "
                f"({human_size(limits.bytes_left)} left); delete some files first.",
                ErrorCode.QUOTA_EXCEEDED,
            )

    def on_part_end(self) -> None:
        if self.file is not None:
            self.file.finish()
        elif self.part_name == OPERATIONS:
            self.operations = parse_operations(bytes(self.field))
        elif self.part_name == MAP:
            self.paths = parse_map(bytes(self.field), max_files=self.limits.max_files)
            if self.limits.files_left is not None and len(self.paths) > self.limits.files_left:
                raise EdgeError(
                    f"Your upload rate allows {self.limits.files_left} more files this minute; "
                    "wait a moment.",
                    ErrorCode.RATE_LIMITED,
                    headers={"Retry-After": "60"},
                )
            for path in self.paths.values():
                check_path(self.operations, path)
        self.file = self.field = None
