"""Resumable uploads: the writes behind the tus protocol (served by schema/http/tus.py).

1. `resumable_upload_create` checks what any upload is checked for (size, rate, quota: the
   functions the ingress and direct uploads use) before a byte is sent, and creates the File
   AWAITING_UPLOAD with its `ResumableUpload` at offset 0.
2. Each PATCH first becomes the upload's only writer (`resumable_upload_claim`: a reservation
   naming the file, reservations.py); one sent while another writes is refused (UploadLocked,
   423) before a byte of it is read. It then writes its bytes through a `ResumableWriter` at
   the stored offset, and `resumable_upload_advance` records the new offset if it is still
   the writer. Bytes that arrived before a dropped connection are kept too: the client asks
   for the offset and sends the rest. The offset is in the database and the bytes in the
   storage, so any web process can take an upload over, also after a restart.
3. With the last byte the bytes move to the File's name, and the File becomes PENDING and is
   processed like any other upload.

Staging: on local disk the bytes are written under the upload's staging name
(`models.staging_name`, in `.incoming/`) and renamed to the File's name by the request that
completes it, in the transaction that marks it PENDING, so the name a file is processed and
served from is written once, whole. A writer checks that it still holds its turn before each
write to the disk, so one that froze past its reservation (and was replaced) writes nothing
more. On S3 the bytes go into a multipart upload under the final key, which is S3's own
staging: nothing is visible under the key until the upload is completed (in the same place),
then all of it at once, and S3 refuses a part sent to an upload completed or aborted. A copy
from a staging key would add nothing but reading and writing every byte again. Whole parts
only: what a PATCH leaves below S3's 5 MiB minimum part (unless it is the end of the file) is
not stored, and the answer's offset says so, as tus allows. Unfinished uploads expire
TUS_EXPIRE seconds after their last bytes (`recovery.files_expire_awaiting`); terminating
one deletes it at once.
"""

import contextlib
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from .. import selectors, storage
from ..exceptions import FileNotFound, UploadExpired, UploadLocked, UploadOffsetMismatch
from ..models import File, FileStatus, ResumableUpload, staging_name, stored_name
from ..processors.sniff import SNIFF_BYTES
from ..sizes import MIB, human_size
from .deletion import file_row_delete
from .direct_upload import DeclaredUpload, file_mark_received
from .reservations import (
    Reservation,
    upload_reservation_hold,
    upload_writer_claim,
    upload_writer_live,
)
from .upload import check_allowance, sanitize_file_name, validate_size

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


def resumable_upload_claim(
    *, upload: ResumableUpload, offset: int
) -> tuple[ResumableUpload, Reservation]:
    """Make this PATCH the upload's only writer (UploadLocked while another one is), then
    check its offset again: the writer before it may have moved it. Returns the upload as it
    now stands and the reservation to renew and release."""
    with transaction.atomic():
        reservation = upload_writer_claim(file=upload.file)
        upload = ResumableUpload.objects.select_related("file").filter(pk=upload.pk).first()
        if upload is None:
            raise FileNotFound()
        resumable_upload_check(upload=upload, offset=offset)
    return upload, reservation


class ResumableWriter:
    """One PATCH's bytes, fed as they arrive (`feed`, never past the declared size, never
    once its turn may be over); `close` makes them durable and says how many are stored;
    `abandon` drops what is buffered. `publish` puts the whole upload under the File's name."""

    def __init__(self, upload: ResumableUpload, reservation: Reservation):
        self.upload = upload
        self.reservation = reservation
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
        self.reservation.hold()
        self.write(chunk)
        self.received += len(chunk)

    def write(self, chunk) -> None:
        raise NotImplementedError

    def close(self) -> int:
        raise NotImplementedError

    def abandon(self) -> None:
        raise NotImplementedError

    def publish(self) -> None:
        raise NotImplementedError

    def unpublish(self) -> None:
        """Undo `publish` when the transaction that recorded it fails."""

    def head(self) -> bytes:
        raise NotImplementedError


class DiskWriter(ResumableWriter):
    """Written at the stored offset into the staging file, a buffer at a time, each write
    checked against the writer's turn first: bytes a broken earlier request left past the
    offset are overwritten. Never truncated: a request the server took long to see dropped
    may close after its client resumed through another one, and cutting the file where the
    stale one stopped would lose what the new one stored."""

    def __init__(self, upload: ResumableUpload, reservation: Reservation):
        super().__init__(upload, reservation)
        self.staging = Path(default_storage.path(staging_name(upload.pk)))
        self.final = Path(default_storage.path(upload.file.stored_file.name))
        self.staging.parent.mkdir(parents=True, exist_ok=True)
        if upload.offset and not self.staging.exists() and self.final.exists():
            # Written at the File's name (before staging existed, or a completion whose
            # transaction failed after its rename): its bytes go on from there.
            os.replace(self.final, self.staging)
        self.descriptor = os.open(
            self.staging, os.O_WRONLY | os.O_CREAT, settings.FILE_UPLOAD_PERMISSIONS
        )
        self.position = upload.offset
        self.buffer = bytearray()

    def write(self, chunk) -> None:
        self.buffer += chunk
        if len(self.buffer) >= WRITE_BUFFER_SIZE:
            self.flush()

    def flush(self) -> None:
        self.reservation.hold()
        done = 0
        with memoryview(self.buffer) as pending:
            while done < len(pending):
                done += os.pwrite(self.descriptor, pending[done:], self.position + done)
        self.position += done
        self.buffer.clear()

    def close(self) -> int:
        try:
            self.flush()
            os.fsync(self.descriptor)
        finally:
            self.abandon()
        return self.received

    def abandon(self) -> None:
        self.buffer.clear()
        with contextlib.suppress(OSError):
            os.close(self.descriptor)

    def publish(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.staging, self.final)

    def unpublish(self) -> None:
        os.replace(self.final, self.staging)

    def head(self) -> bytes:
        with open(self.final, "rb") as stored:
            return stored.read(SNIFF_BYTES)


class S3Writer(ResumableWriter):
    """Parts of the upload's multipart upload: S3_UPLOAD_PART_SIZE in memory at most."""

    def __init__(self, upload: ResumableUpload, reservation: Reservation):
        super().__init__(upload, reservation)
        self.multipart = storage.MultipartUpload(
            upload.file.stored_file.name, upload_id=upload.multipart_id, parts=upload.parts
        )

    def write(self, chunk) -> None:
        self.multipart.write(chunk)

    def close(self) -> int:
        """Sends what is buffered if S3 takes it as a part (the end of the file may be a
        smaller one); else it is not stored."""
        buffered = len(self.multipart.buffer)
        if buffered and (self.room == 0 or buffered >= storage.MIN_PART_SIZE):
            self.reservation.hold()
            self.multipart.send_part()
        elif buffered:
            self.abandon()
            return self.received - buffered
        return self.received

    def abandon(self) -> None:
        self.multipart.buffer.clear()

    def publish(self) -> None:
        self.multipart.complete()

    def head(self) -> bytes:
        return storage.object_head(self.multipart.key, min(SNIFF_BYTES, self.upload.file.size))


def resumable_upload_writer(
    *, upload: ResumableUpload, reservation: Reservation
) -> ResumableWriter:
    return S3Writer(upload, reservation) if storage.is_s3() else DiskWriter(upload, reservation)


def resumable_upload_advance(*, writer: ResumableWriter, stored: int) -> ResumableUpload:
    """Record the `stored` bytes the writer added; with the last one the bytes are published
    under the File's name and the File becomes PENDING (processing queued). Refused if the
    writer lost its turn, or another request moved the offset meanwhile."""
    upload = writer.upload
    start, offset = upload.offset, upload.offset + stored
    finished = offset == upload.file.size
    changes = {"offset": offset, "expires_at": expiry()}
    if storage.is_s3():
        changes |= {
            "parts": writer.multipart.parts,
            "multipart_id": "" if finished else upload.multipart_id,
        }
    published = False
    try:
        with transaction.atomic():
            upload_reservation_hold(reservation=writer.reservation)
            rows = ResumableUpload.objects.filter(pk=upload.pk, offset=start)
            if not rows.update(**changes):
                raise UploadOffsetMismatch("Another request sent bytes of this upload meanwhile.")
            if finished:
                writer.publish()
                published = True
                file_mark_received(upload.file, head=writer.head())
    except BaseException:
        if published:
            writer.unpublish()
        raise
    for name, value in changes.items():
        setattr(upload, name, value)
    return upload


def resumable_upload_terminate(*, user, file_id) -> uuid.UUID:
    """tus termination: an unfinished upload and its File are deleted, with the bytes stored
    so far (signals.py). A finished one is a File like any other: `deleteFile` deletes it.
    Refused while a PATCH writes it: its bytes would go on arriving, uncounted by the quota,
    into a file nobody would remove."""
    file_pk = selectors.resumable_upload_get(user=user, file_id=file_id).file_id
    with transaction.atomic():
        file = File.objects.select_for_update().filter(pk=file_pk).first()
        if file is not None and file.status != FileStatus.AWAITING_UPLOAD:
            raise UploadOffsetMismatch("This upload is finished: delete its file with deleteFile.")
        if file is not None and upload_writer_live(file_id=file.pk):
            raise UploadLocked(
                "A request is sending this upload's bytes right now: cancel it, then delete."
            )
        if file is not None:
            file_row_delete(file=file)
    return file_pk
