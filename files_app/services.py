"""Every write: accept uploads, move files through their states, reprocess, delete.

State changes go through `_transition`, which bumps the row's `version` in the same UPDATE
and publishes the new state only after the transaction commits, so subscribers never see a
state that was rolled back and can order what they get.
"""

import logging
import os
import secrets
import time
import unicodedata
import uuid
from collections.abc import Sequence
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import events, selectors
from .exceptions import FileTooLarge, InvalidUpload, TooManyFiles
from .models import ApiToken, File, FileStatus
from .processors import ProcessingError, ProcessingSource, processor_for, sniff_content_type
from .processors.sniff import SNIFF_BYTES
from .uploads import OversizedUpload

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255
UNNAMED = "unnamed"
ACTIVE_STATUSES = (FileStatus.PENDING, FileStatus.PROCESSING)
FINISHED_STATUSES = (FileStatus.DONE, FileStatus.FAILED)
UNEXPECTED_FAILURE = (
    "Processing failed unexpectedly. Try reprocessing the file; if it fails again, the file "
    "may be damaged."
)
MISSING_BYTES = "The stored bytes of this file are missing; upload it again."
# Bearer tokens record their last use at most this often, so authenticating is rarely a write.
TOKEN_LAST_USED_GRANULARITY_SECONDS = 60


# --- uploads ------------------------------------------------------------------------------

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
        ext = ext[:16]
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
        if isinstance(upload, OversizedUpload):
            raise FileTooLarge(
                f"{name} is larger than the {upload.limit} byte limit for one file."
            )
        if not hasattr(upload, "read") or upload.size is None:
            raise InvalidUpload(f"{name} is not a file upload.")
        if upload.size > settings.MAX_UPLOAD_SIZE:
            raise FileTooLarge(
                f"{name} is larger than the {settings.MAX_UPLOAD_SIZE} byte limit for one file."
            )
        if upload.size == 0:
            raise InvalidUpload(f"{name} is empty.")


def read_head(upload) -> bytes:
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return head


def files_create(*, owner, uploads: Sequence) -> list[File]:
    """Store every upload and create its PENDING row, all or nothing.

    Temporary upload files are moved into storage, not copied through memory. If anything
    fails, the bytes already stored are removed, so no orphan is left behind.
    """
    validate_uploads(uploads)
    stored_names: list[str] = []
    created: list[File] = []
    try:
        with transaction.atomic():
            for upload in uploads:
                file = File(
                    id=uuid.uuid4(),
                    owner=owner,
                    name=sanitize_file_name(upload.name),
                    size=upload.size,
                    content_type=sniff_content_type(read_head(upload)),
                )
                file.stored_file.save(file.name, upload, save=False)
                stored_names.append(file.stored_file.name)
                file.save(force_insert=True)
                created.append(file)
                transaction.on_commit(partial(_announce_and_enqueue, file), robust=True)
    except Exception:
        for name in stored_names:
            default_storage.delete(name)
        raise
    return created


def file_create(*, owner, upload) -> File:
    return files_create(owner=owner, uploads=[upload])[0]


def _announce_and_enqueue(file: File) -> None:
    events.publish_file_update(file)
    _enqueue(file.pk)


# --- state changes ------------------------------------------------------------------------

def _transition(file_id, *, only_if: Sequence[str] = (), **changes) -> File | None:
    """Apply `changes` and bump the version in one UPDATE; publish after commit.

    Returns None when the row is gone or not in one of the `only_if` statuses, which is how
    a redelivered or stale task learns it has nothing to do.
    """
    rows = File.objects.filter(pk=file_id)
    if only_if:
        rows = rows.filter(status__in=only_if)
    with transaction.atomic():
        if not rows.update(version=F("version") + 1, **changes):
            return None
        file = File.objects.get(pk=file_id)
        transaction.on_commit(partial(events.publish_file_update, file), robust=True)
    return file


def file_start_processing(*, file_id) -> File | None:
    # PROCESSING is accepted too: a task redelivered after its worker died starts again.
    return _transition(
        file_id, only_if=ACTIVE_STATUSES, status=FileStatus.PROCESSING, progress=0.0, error=""
    )


def file_record_progress(*, file_id, progress: float) -> File | None:
    return _transition(
        file_id, only_if=(FileStatus.PROCESSING,), progress=max(0.0, min(progress, 1.0))
    )


def file_finish(*, file_id, facts: dict) -> File | None:
    return _transition(
        file_id,
        only_if=(FileStatus.PROCESSING,),
        status=FileStatus.DONE,
        progress=1.0,
        sha256=facts["sha256"],
        content_type=facts["content_type"],
        processed_at=timezone.now(),
        error="",
    )


def file_fail(*, file_id, error: str) -> File | None:
    return _transition(
        file_id,
        only_if=ACTIVE_STATUSES,
        status=FileStatus.FAILED,
        error=error,
        processed_at=timezone.now(),
    )


class ThrottledProgress:
    """Records progress at most `PROGRESS_EVENTS_PER_SECOND` times a second."""

    def __init__(self, file_id):
        self.file_id = file_id
        self.min_interval = 1.0 / settings.PROGRESS_EVENTS_PER_SECOND
        self.last_sent_at = time.monotonic()

    def __call__(self, progress: float) -> None:
        now = time.monotonic()
        if progress < 1.0 and now - self.last_sent_at >= self.min_interval:
            self.last_sent_at = now
            file_record_progress(file_id=self.file_id, progress=progress)


def file_process(*, file_id) -> File | None:
    """Run the file through its processor: PENDING -> PROCESSING -> DONE or FAILED.

    Idempotent: a file already DONE or FAILED (a duplicate delivery) is left alone, and
    every failure ends in FAILED with a message, never in PROCESSING.
    """
    file = file_start_processing(file_id=file_id)
    if file is None:
        return None
    try:
        with file.stored_file.open("rb") as stream:
            facts = processor_for("generic")(
                ProcessingSource(
                    stream=stream,
                    size=file.size,
                    name=file.name,
                    chunk_size=settings.PROCESSING_CHUNK_SIZE,
                    report_progress=ThrottledProgress(file.pk),
                )
            )
    except ProcessingError as error:
        return file_fail(file_id=file.pk, error=str(error))
    except FileNotFoundError:
        return file_fail(file_id=file.pk, error=MISSING_BYTES)
    except Exception:
        logger.exception("Processing file %s failed", file.pk)
        return file_fail(file_id=file.pk, error=UNEXPECTED_FAILURE)
    return file_finish(file_id=file.pk, facts=facts)


def file_reprocess(*, user, file_id) -> File:
    """Queue a finished file again. A file still queued or processing is returned as is."""
    file = selectors.file_get(user=user, file_id=file_id)
    with transaction.atomic():
        queued = _transition(
            file.pk,
            only_if=FINISHED_STATUSES,
            status=FileStatus.PENDING,
            progress=0.0,
            error="",
            sha256="",
            processed_at=None,
        )
        if queued is None:
            return file
        transaction.on_commit(partial(_enqueue, queued.pk), robust=True)
    return queued


def _enqueue(file_id) -> None:
    from .tasks import process_file  # tasks import services: keep this edge lazy

    process_file.delay(str(file_id))


def file_delete(*, user, file_id) -> uuid.UUID:
    """Delete the row, then (once that has committed) its stored bytes."""
    file = selectors.file_get(user=user, file_id=file_id)
    stored_name = file.stored_file.name
    with transaction.atomic():
        file.delete()
        transaction.on_commit(partial(default_storage.delete, stored_name), robust=True)
    return file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))


# --- API tokens ---------------------------------------------------------------------------

def api_token_create(*, user, name: str = "") -> str:
    """Create a token and return it in clear: the only time it is ever visible."""
    raw_token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, token_hash=ApiToken.hash(raw_token))
    return raw_token


def api_token_authenticate(*, raw_token: str):
    """The active user a bearer token belongs to, or None; notes when it was last used."""
    token = selectors.api_token_find(raw_token=raw_token)
    if token is None:
        return None
    now = timezone.now()
    last_used = token.last_used_at
    if last_used is None or (now - last_used).total_seconds() > TOKEN_LAST_USED_GRANULARITY_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
