"""Direct uploads (S3 only): the client sends the bytes straight to the bucket, so big files
skip the web tier.

1. `file_upload_url_create` checks what an upload through the ingress would (size, rate,
   quota: the same functions), creates the row AWAITING_UPLOAD and returns a presigned POST
   of exactly the declared size, to the upload's staging key (`models.staging_name`), valid
   DIRECT_UPLOAD_URL_EXPIRE s.
2. The client POSTs the bytes to the bucket.
3. `file_upload_complete` finds the object, checks its size, copies it (inside the bucket) to
   the file's key and marks the file PENDING (events fire, processing is queued), once
   however often it is called.

Why a staging key: a presigned POST can't be revoked, and stays usable until it expires, also
after the upload was completed. Posted to the file's own key, it would let the client replace
bytes already processed (and served under the old result). The file's key is written only by
the completion, from the staging object exactly as it was checked (`storage.object_copy`,
conditional on its ETag); one completion at a time (a reservation naming the file,
reservations.py). A POST after that lands on the staging key again, where nothing reads it:
the storage audit removes it.

The row counts against the rate and the quota from the moment the URL is issued, so URLs
can't be collected to get round either. Until completed it is listed like any file, with
its own status; one nobody completed is deleted, with its object, by the recovery sweep
(`recovery.files_expire_awaiting`) DIRECT_UPLOAD_GRACE seconds after its URL expired.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from .. import dispatch, selectors, storage
from ..exceptions import (
    BadUserInput,
    DirectUploadUnavailable,
    UploadMissing,
    UploadSizeMismatch,
)
from ..models import File, FileStatus, staging_name, stored_name
from ..processors import sniff
from ..processors.sniff import SNIFF_BYTES
from .processing import transition
from .reservations import (
    upload_reservation_hold,
    upload_reservation_release,
    upload_writer_claim,
)
from .upload import check_allowance, sanitize_file_name, validate_size

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclaredUpload:
    """What `check_allowance` counts of an upload: its size, before any byte exists."""

    name: str
    size: int


@dataclass(frozen=True)
class UploadUrl:
    file: File
    url: str
    fields: dict[str, str]  # sent first, in the form, before the file
    expires_at: datetime


def file_upload_url_create(*, owner, name: str, size: int) -> UploadUrl:
    if not storage.is_s3():
        raise DirectUploadUnavailable()
    name = sanitize_file_name(name)
    if size < 0:
        raise BadUserInput("A file's size can't be negative.")
    validate_size(name, size)
    file = File(
        id=uuid.uuid4(), owner=owner, name=name, size=size, status=FileStatus.AWAITING_UPLOAD
    )
    file.stored_file.name = stored_name(owner.pk, file.pk)
    expires_in = settings.DIRECT_UPLOAD_URL_EXPIRE
    with transaction.atomic():
        check_allowance(owner, [DeclaredUpload(name, size)])
        file.save(force_insert=True)
        # Signed locally (no request to S3), inside the transaction: no row without its URL.
        post = storage.presigned_upload(staging_name(file.pk), size=size, expires_in=expires_in)
    return UploadUrl(
        file=file,
        url=post["url"],
        fields=post["fields"],
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )


def file_upload_complete(*, user, file_id) -> File:
    """PENDING once the bucket holds the declared bytes, copied to the file's key, and
    processing queued. A file already completed is returned as it is (a repeated call, a
    retry after a lost answer); one being completed by another call is UploadLocked.
    Refused, the row stays AWAITING_UPLOAD: the client may upload again while its URL lasts.
    An object of the wrong size is deleted (only a server that ignores the POST's size
    condition lets one in)."""
    file = selectors.file_get(user=user, file_id=file_id, to="complete")
    if file.status != FileStatus.AWAITING_UPLOAD:
        return file
    if not storage.is_s3():  # S3 was configured when its URL was issued, and no longer is
        raise DirectUploadUnavailable()
    writer = upload_writer_claim(file=file, counted=False)
    try:
        completed = complete_from_staging(file, writer)
    finally:
        upload_reservation_release(reservation=writer)
    if completed is None:  # completed (or expired) meanwhile by another call
        return selectors.file_get(user=user, file_id=file.pk)
    return completed


def complete_from_staging(file: File, writer) -> File | None:
    staging, key = staging_name(file.pk), file.stored_file.name
    try:
        size, etag = storage.object_stat(staging)
    except FileNotFoundError:
        raise UploadMissing() from None
    if size != file.size:
        with storage.s3_errors():
            default_storage.delete(staging)
        raise UploadSizeMismatch(
            f"{file.name}: {size:,} bytes arrived, not the {file.size:,} declared; upload it again."
        )
    try:
        storage.object_copy(staging, key, etag=etag)
    except FileNotFoundError:
        raise UploadMissing(
            "The file's bytes changed while the upload was being completed; complete it again."
        ) from None
    with transaction.atomic():
        upload_reservation_hold(reservation=writer)
        completed = file_mark_received(file, head=storage.object_head(key, min(SNIFF_BYTES, size)))
        if completed is not None:
            transaction.on_commit(lambda: staging_delete_quietly(staging), robust=True)
    return completed


def staging_delete_quietly(name: str) -> None:
    """The staged object once copied: a failure is logged (the storage audit removes it)."""
    try:
        with storage.s3_errors():
            default_storage.delete(name)
    except OSError:
        logger.warning("Could not delete the staged bytes of a completed upload")


def file_mark_received(file: File, *, head: bytes) -> File | None:
    """AWAITING_UPLOAD → PENDING once every byte is stored (a direct or a tus upload): the
    kind is sniffed from `head`, the change announced and processing queued like any upload.
    None when the file was completed or expired meanwhile."""
    sniffed = sniff(head, file.name)
    with transaction.atomic():
        completed = transition(
            file.pk,
            only_if=[FileStatus.AWAITING_UPLOAD],
            status=FileStatus.PENDING,
            content_type=sniffed.content_type,
            kind=sniffed.kind,
        )
        if completed is not None:
            transaction.on_commit(lambda: dispatch.file_enqueue(file_id=completed.pk), robust=True)
    return completed
