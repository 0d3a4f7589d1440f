"""Resumable uploads: the writes behind the tus protocol (served by schema/tus.py).

1. `resumable_upload_create` checks what any upload is checked for (size, rate, quota: the
   functions the ingress and direct uploads use) before a byte is sent, and creates the File
   AWAITING_UPLOAD with its `ResumableUpload` at offset 0.
2. Each PATCH writes its bytes through a `ResumableWriter` into the storage, at the stored
   offset, then `resumable_upload_advance` records the new offset (only if no other request
   moved it meanwhile). Bytes that arrived before a dropped connection are kept too: the
   client asks for the offset and sends the rest. The offset is in the database and the bytes
   in the storage, so any web process can take an upload over, also after a restart.
3. With the last byte the File becomes PENDING and is processed like any other upload.

On local disk the bytes are written straight at the File's final name; on S3 into a
multipart upload under its final key, whole parts only: what a PATCH leaves below S3's 5 MiB
minimum part (unless it is the end of the file) is not stored, and the answer's offset says
so, as tus allows. Unfinished uploads expire TUS_EXPIRE seconds after their last bytes
(`files_expire_awaiting`); terminating one deletes it at once.
"""

import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from .. import selectors, storage
from ..exceptions import UploadExpired, UploadOffsetMismatch
from ..models import File, FileStatus, ResumableUpload, stored_name
from ..processors.sniff import SNIFF_BYTES
from ..sizes import MIB, human_size
from .direct_upload import DeclaredUpload, file_mark_received
from .upload import check_allowance, file_row_delete, sanitize_file_name, validate_size

# Bytes a PATCH holds in memory before they go to disk (S3: one part, S3_UPLOAD_PART_SIZE).
WRITE_BUFFER_SIZE = MIB


def expiry():
    return timezone.now() + timedelta(seconds=settings.TUS_EXPIRE)


def resumable_upload_create(*, owner, name: str, size: int) -> ResumableUpload:
    name = sanitize_file_name(name)
    validate_size(name, size)
    file = File(
        id=uuid.uuid4(), owner=owner, name=name, size=size, status=FileStatus.AWAITING_UPLOAD
    )
    file.stored_file.name = stored_name(owner.pk, file.pk)
    upload = ResumableUpload(file=file, expires_at=expiry())
    with transaction.atomic():
        check_allowance(owner, [DeclaredUpload(name, size)])
        file.save(force_insert=True)
        if storage.is_s3():  # last: nothing to abort if the checks refuse the upload
            upload.multipart_id = storage.MultipartUpload(file.stored_file.name).upload_id
        upload.save(force_insert=True)
    return upload


def resumable_upload_check(*, upload: ResumableUpload, offset: int) -> None:
    """Before a PATCH's body is read: it must go on where the stored bytes end, in time."""
    if upload.file.status != FileStatus.AWAITING_UPLOAD:
        raise UploadOffsetMismatch("This upload is finished: nothing more can be sent.")
    if upload.expires_at < timezone.now():
        raise UploadExpired()
    if offset != upload.offset:
        raise UploadOffsetMismatch(
            f"{upload.offset:,} bytes of this upload are stored; "
            f"send the rest from there, not from {offset:,}."
        )


class ResumableWriter:
    """One PATCH's bytes, fed as they arrive (`feed`, never past the declared size); `close`
    makes them durable and says how many are stored."""

    def __init__(self, upload: ResumableUpload):
        self.upload = upload
        self.received = 0

    @property
    def room(self) -> int:
        return self.upload.file.size - self.upload.offset - self.received

    def feed(self, chunk) -> None:
        if len(chunk) > self.room:
            raise OverflowError(
                f"This upload was declared as {human_size(self.upload.file.size)}"
                "; more bytes were sent."
            )
        self.write(chunk)
        self.received += len(chunk)

    def write(self, chunk) -> None:
        raise NotImplementedError

    def close(self) -> int:
        raise NotImplementedError

    def head(self) -> bytes:
        raise NotImplementedError


class DiskWriter(ResumableWriter):
    """Written in place at the File's final name, from the stored offset: bytes a broken
    earlier request left past it are overwritten. Never truncated: a request the server took
    long to see dropped may close after its client resumed through another one, and cutting the
    file where the stale one stopped would lose what the new one stored."""

    def __init__(self, upload: ResumableUpload):
        super().__init__(upload)
        self.path = Path(default_storage.path(upload.file.stored_file.name))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, settings.FILE_UPLOAD_PERMISSIONS)
        self.stream = os.fdopen(descriptor, "wb", buffering=WRITE_BUFFER_SIZE)
        self.stream.seek(upload.offset)

    def write(self, chunk) -> None:
        self.stream.write(chunk)

    def close(self) -> int:
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
        finally:
            self.stream.close()
        return self.received

    def head(self) -> bytes:
        with open(self.path, "rb") as stored:
            return stored.read(SNIFF_BYTES)


class S3Writer(ResumableWriter):
    """Parts of the upload's multipart upload: S3_UPLOAD_PART_SIZE in memory at most."""

    def __init__(self, upload: ResumableUpload):
        super().__init__(upload)
        self.multipart = storage.MultipartUpload(
            upload.file.stored_file.name, upload_id=upload.multipart_id, parts=upload.parts
        )

    def write(self, chunk) -> None:
        self.multipart.write(chunk)

    def close(self) -> int:
        """Sends what is buffered if S3 takes it as a part; else it is not stored."""
        buffered = len(self.multipart.buffer)
        if self.room == 0:
            self.multipart.complete()
        elif buffered >= storage.MIN_PART_SIZE:
            self.multipart.send_part()
        else:
            self.multipart.buffer.clear()
            return self.received - buffered
        return self.received

    def head(self) -> bytes:
        return storage.object_head(self.multipart.key, min(SNIFF_BYTES, self.upload.file.size))


def resumable_upload_writer(*, upload: ResumableUpload) -> ResumableWriter:
    return S3Writer(upload) if storage.is_s3() else DiskWriter(upload)


def resumable_upload_advance(*, writer: ResumableWriter, stored: int) -> ResumableUpload:
    """Record the `stored` bytes the writer added; with the last one the File becomes PENDING
    (processing queued). Refused if another request moved the offset meanwhile."""
    upload = writer.upload
    start, offset = upload.offset, upload.offset + stored
    finished = offset == upload.file.size
    changes = {"offset": offset, "expires_at": expiry()}
    if storage.is_s3():
        changes |= {
            "parts": writer.multipart.parts,
            "multipart_id": "" if finished else upload.multipart_id,
        }
    with transaction.atomic():
        rows = ResumableUpload.objects.filter(pk=upload.pk, offset=start)
        if not rows.update(**changes):
            raise UploadOffsetMismatch("Another request sent bytes of this upload meanwhile.")
        if finished:
            file_mark_received(upload.file, head=writer.head())
    for name, value in changes.items():
        setattr(upload, name, value)
    return upload


def resumable_upload_terminate(*, user, file_id) -> uuid.UUID:
    """tus termination: an unfinished upload and its File are deleted, with the bytes stored
    so far (signals.py). A finished one is a File like any other: `deleteFile` deletes it."""
    file_pk = selectors.resumable_upload_get(user=user, file_id=file_id).file_id
    with transaction.atomic():
        file = File.objects.select_for_update().filter(pk=file_pk).first()
        if file is not None and file.status != FileStatus.AWAITING_UPLOAD:
            raise UploadOffsetMismatch("This upload is finished: delete its file with deleteFile.")
        if file is not None:
            file_row_delete(file=file)
    return file_pk
