"""Accepting uploads (all or nothing), reprocessing and deleting files."""

import contextvars
import logging
import os
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from .. import dispatch, events, metrics, selectors
from ..exceptions import (
    FileTooLarge,
    InvalidUpload,
    QuotaExceeded,
    RateLimited,
    TooManyFiles,
)
from ..models import File, FileStatus, ReprocessRequest, UploadReservation, stored_file_path
from ..processors import sniff
from ..processors.sniff import SNIFF_BYTES
from ..sizes import human_size
from . import webhooks
from .fair_share import user_lock
from .processing import FINISHED_STATUSES, transition

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255
MAX_EXTENSION_LENGTH = 16
UNNAMED = "unnamed"
RATE_WINDOW = timedelta(minutes=1)


def sanitize_file_name(raw_name: str | None) -> str:
    """A display name only (never a path): last path segment, no control characters."""
    name = unicodedata.normalize("NFC", str(raw_name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = name.strip()
    if name in {"", ".", ".."}:
        return UNNAMED
    if len(name) > MAX_NAME_LENGTH:
        stem, ext = os.path.splitext(name)
        ext = ext[:MAX_EXTENSION_LENGTH]
        name = stem[: MAX_NAME_LENGTH - len(ext)] + ext
    return name


def validate_uploads(uploads: Sequence) -> None:
    """Refuse the whole batch before anything is stored."""
    if len(uploads) > settings.MAX_FILES_PER_REQUEST:
        raise TooManyFiles(
            f"{len(uploads)} files were sent; at most {settings.MAX_FILES_PER_REQUEST} "
            "are accepted in one request."
        )
    if not uploads:
        raise InvalidUpload("No file was sent.")
    for upload in uploads:
        name = sanitize_file_name(getattr(upload, "name", None))
        if not hasattr(upload, "read") or upload.size is None:
            raise InvalidUpload(f"{name} is not a file upload.")
        validate_size(name, upload.size)


def validate_size(name: str, size: int) -> None:
    """One file's size against MAX_UPLOAD_SIZE: the ingress's bytes, or a direct upload's
    declared size."""
    if size > settings.MAX_UPLOAD_SIZE:
        raise FileTooLarge(
            f"{name} is larger than the {human_size(settings.MAX_UPLOAD_SIZE)} limit for one file."
        )
    if size <= 0:
        raise InvalidUpload(f"{name} is empty.")


@dataclass(frozen=True)
class UploadAllowance:
    """What a user may still upload now; None where no limit is set. `uploads_in_flight`
    is counted on the way (None: not counted)."""

    files: int | None
    bytes: int | None
    uploads_in_flight: int | None = None


UNLIMITED = UploadAllowance(files=None, bytes=None)


def rate_limited() -> RateLimited:
    return RateLimited(
        f"At most {settings.UPLOAD_RATE_LIMIT_PER_MINUTE} files a minute can be "
        "uploaded; wait a moment."
    )


def upload_allowance(*, owner, excluding=()) -> UploadAllowance:
    """The user's per-minute file rate and storage quota, as what is left of each: the quota
    counts the bytes stored and those the user's uploads in flight reserved (but the
    reservations `excluding`: the caller's own). Raises RateLimited or QuotaExceeded when
    nothing is left, so the upload ingress can refuse before it reads a byte of the body."""
    rate, quota = settings.UPLOAD_RATE_LIMIT_PER_MINUTE, settings.STORAGE_QUOTA
    if not rate and not quota:
        return UNLIMITED
    usage = selectors.upload_usage(
        user=owner, since=timezone.now() - RATE_WINDOW, excluding=excluding
    )
    allowance = UploadAllowance(
        files=max(0, rate - usage.recent_files) if rate else None,
        bytes=max(0, quota - usage.stored_bytes - usage.reserved_bytes) if quota else None,
        uploads_in_flight=usage.uploads_in_flight,
    )
    if allowance.files == 0:
        raise rate_limited()
    if allowance.bytes == 0:
        raise QuotaExceeded(
            f"Your {human_size(quota)} of storage is full; delete some files first."
        )
    return allowance


def check_allowance(owner, uploads: Sequence) -> None:
    """Per-user rate limit and storage quota, checked before the rows are written. Called in
    the upload's transaction after locking the user's row, so concurrent uploads of one user
    are counted one after the other (on PostgreSQL; SQLite serialises writes anyway), and
    against the bytes the others in flight reserved (reservations.py)."""
    if not settings.UPLOAD_RATE_LIMIT_PER_MINUTE and not settings.STORAGE_QUOTA:
        return  # nothing to count, nothing to lock
    user_lock(user_id=owner.pk)
    # The request's own reservation holds these very bytes: not counted twice.
    own = {upload.reservation_id for upload in uploads if getattr(upload, "reservation_id", None)}
    allowance = upload_allowance(owner=owner, excluding=own)
    if allowance.files is not None and len(uploads) > allowance.files:
        raise rate_limited()
    wanted = sum(upload.size for upload in uploads)
    if allowance.bytes is not None and wanted > allowance.bytes:
        quota = settings.STORAGE_QUOTA
        raise QuotaExceeded(
            f"This would use {human_size(quota - allowance.bytes + wanted)} of your "
            f"{human_size(quota)} of storage; delete some files first."
        )
    # From here its bytes are rows: the reservation that held them ends in this transaction
    # (ended only after the answer, it would count them twice for a moment, and refuse an
    # upload finishing at the same time that fits).
    UploadReservation.objects.filter(pk__in=own).delete()


def read_head(upload) -> bytes:
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return head


def files_create(*, owner, uploads: Sequence) -> list[File]:
    """Store every upload and create its PENDING row, all or nothing.

    Uploads that arrive as files in the storage folder (the ingress writes them there) are
    moved into place, not copied; those streamed into S3 are completed (see `store`). If
    anything fails, the bytes already stored are removed, so no orphan is left behind.
    """
    validate_uploads(uploads)
    stored_names: list[str] = []
    created: list[File] = []
    try:
        with transaction.atomic():
            check_allowance(owner, uploads)
            for upload in uploads:
                name = sanitize_file_name(upload.name)
                sniffed = sniff(read_head(upload), name)
                file = File(
                    id=getattr(upload, "file_id", None) or uuid.uuid4(),
                    owner=owner,
                    name=name,
                    size=upload.size,
                    content_type=sniffed.content_type,
                    kind=sniffed.kind,
                )
                store(file, upload, stored_names)
                file.save(force_insert=True)
                created.append(file)
                logger.info(
                    "File accepted: %d bytes, kind %s",
                    file.size,
                    file.kind,
                    extra={"file_id": str(file.pk)},
                )
                # A lambda, not functools.partial: Django's robust on_commit logs a failing
                # callback by its __qualname__, which a partial lacks, and that logging error
                # turned a Redis outage into a failed upload (tests/reliability).
                transaction.on_commit(
                    lambda file=file: background.submit(announce_and_enqueue, file), robust=True
                )
    except Exception:
        for stored_name in stored_names:
            default_storage.delete(stored_name)
        raise
    for file in created:
        metrics.FILES_ACCEPTED.labels(kind=file.kind).inc()
    return created


def store(file: File, upload, stored_names: list[str]) -> None:
    """Put the upload's bytes under the file's name, and add it to `stored_names`. An upload
    already streaming into S3 under its final key (it has `complete`, and gave the row its
    id) is completed there; any other is saved through the storage (a rename on local disk
    when it is a file in the storage folder)."""
    if hasattr(upload, "complete"):
        if upload.key != stored_file_path(file, ""):
            raise InvalidUpload(f"{file.name} was sent for another user.")
        stored_names.append(upload.complete())
        file.stored_file.name = stored_names[-1]
    else:
        file.stored_file.save(file.name, upload, save=False)
        stored_names.append(file.stored_file.name)


def file_create(*, owner, upload) -> File:
    return files_create(owner=owner, uploads=[upload])[0]


def announce_and_enqueue(file: File) -> None:
    try:
        events.publish_file_update(file)
        dispatch.file_enqueue(file_id=file.pk)
        logger.info("Queued for processing", extra={"file_id": str(file.pk)})
    except Exception:  # Redis away: the recovery sweep queues the file later
        logger.exception("Could not queue file %s for processing", file.pk)


class Background:
    """One thread of this process that runs after-commit work in order, so an upload's answer
    does not wait for its announcement and task (two Redis round trips, a third of a small
    upload's time, measured). Started lazily, and again in a forked child (threads do not
    survive a fork). Work still queued when the process exits normally is finished first; a
    killed process loses it, and the recovery sweep queues those files."""

    def __init__(self):
        self.executor: ThreadPoolExecutor | None = None
        self.pid = None
        self.lock = threading.Lock()

    def submit(self, function, *args) -> None:
        with self.lock:
            if self.executor is None or self.pid != os.getpid():
                self.executor = ThreadPoolExecutor(1, thread_name_prefix="after-commit")
                self.pid = os.getpid()
            # In the submitter's context: its log lines keep the request's id.
            self.executor.submit(contextvars.copy_context().run, function, *args)


background = Background()


def file_reprocess(*, user, file_id) -> File:
    """Queue a finished file again. A file still queued or processing is returned as is."""
    file = selectors.file_get(user=user, file_id=file_id, to="reprocess")
    with transaction.atomic():
        check_reprocess_rate(user=user)
        queued = transition(
            file.pk,
            only_if=FINISHED_STATUSES,
            status=FileStatus.PENDING,
            progress=0.0,
            error="",
            failure_code="",
            sha256="",
            result={},
            processed_at=None,
            attempts=0,
        )
        if queued is None:
            return file
        ReprocessRequest.objects.create(user=user)
        transaction.on_commit(lambda: dispatch.file_enqueue(file_id=queued.pk), robust=True)
    return queued


def check_reprocess_rate(*, user) -> None:
    """A reprocess counts against the upload rate (it takes a worker like an upload), counted
    under a lock on the user's row as uploads are. Taken before the file's row is updated:
    the order a worker's start takes them in (fair_share), so the two never deadlock."""
    rate = settings.UPLOAD_RATE_LIMIT_PER_MINUTE
    if not rate:
        return
    user_lock(user_id=user.pk)
    if selectors.upload_usage(user=user, since=timezone.now() - RATE_WINDOW).recent_files >= rate:
        raise rate_limited()


def reprocess_requests_prune(*, now=None) -> int:
    """Delete the reprocess records the rate window no longer counts; returns how many."""
    cutoff = (now or timezone.now()) - RATE_WINDOW
    return ReprocessRequest.objects.filter(requested_at__lt=cutoff).delete()[0]


def file_delete(*, user, file_id) -> uuid.UUID:
    """Delete the row; its bytes and thumbnail follow after commit (see signals.py), and its
    subscribers learn of it (`file_row_delete`). A file deleted meanwhile is gone all the
    same: its id is returned."""
    file_pk = selectors.file_get(user=user, file_id=file_id, to="delete").pk
    with transaction.atomic():
        locked = File.objects.select_for_update().filter(pk=file_pk).first()
        if locked is not None:
            file_row_delete(file=locked)
    return file_pk


def file_row_delete(*, file: File) -> None:
    """Delete a row the caller holds locked, and publish its last event after commit: its
    final state marked `deleted`, one version newer than the row's. The lock makes that the
    newest: a worker's change waits for it, then finds no row (and publishes nothing)."""
    last = events.file_state(file, deleted=True)
    file.delete()
    transaction.on_commit(lambda: events.publish_state(last), robust=True)
    transaction.on_commit(lambda: webhooks.webhook_deliveries_create(state=last), robust=True)
