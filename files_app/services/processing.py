"""The processing state machine: PENDING → PROCESSING → DONE or FAILED.

Every change goes through `transition`, which bumps the row's `version` in the same UPDATE
and publishes the new state only after the transaction commits, so subscribers never see a
state that was rolled back and can order what they get.

A run holds a lease on its file (`Lease`), renewed while it works; once it lapses the file
may be taken over, and the run's own writes are refused from then on (they name the run's
attempt), so a file is finished once even when a frozen worker wakes up.
"""

import enum
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import events, metrics, processors, storage
from ..exceptions import TransientProcessingError
from ..failures import FailureCode
from ..models import File, FileStatus, thumbnail_path
from . import fair_share, statements, webhooks
from .lease import Lease, claimable, file_takeover_wait, lease_end, run_of

logger = logging.getLogger(__name__)

FINISHED_STATUSES = (FileStatus.DONE, FileStatus.FAILED)
# What a file that FAILED for a reason of the service's own says, by its code (a processor
# writes its own message beside its code).
FAILURE_MESSAGES = {
    FailureCode.UNEXPECTED: (
        "Processing failed unexpectedly. Try reprocessing the file; if it fails again, the file "
        "may be damaged."
    ),
    FailureCode.MISSING_BYTES: "The stored bytes of this file are missing; upload it again.",
    FailureCode.TOOK_TOO_LONG: "Processing took too long and was stopped.",
    FailureCode.STORAGE_UNAVAILABLE: (
        "The file could not be read from storage. Try reprocessing it later."
    ),
}
OUT_OF_MEMORY = (  # TOO_COMPLEX, said of memory
    "This file needs more memory than a file may use: it is too large or too complex to process."
)


def transition(
    file_id,
    *,
    only_if: Sequence[str] = (),
    where: dict | Q | None = None,
    lock_owner: bool = False,
    **changes,
) -> File | None:
    """Apply `changes` and bump the version in one UPDATE … RETURNING, whose SQL is compiled
    once per shape (`statements`); publish the returned row after commit (at once outside a
    transaction: the statement was its own).

    Returns None when the row is gone, not in one of the `only_if` statuses or not matching
    `where`, which is how a redelivered or stale task learns it has nothing to do.
    `lock_owner`: lock the owner's row first, in the same round trip, for a `where` that
    counts the owner's files (`statements.owner_locked`).

    A change to DONE or FAILED is news for its owner's webhooks: the same statement returns
    whether the owner has any (`statements.owner_webhooks`), and only if so are deliveries
    made after commit (`webhooks.webhook_deliveries_create`, which queries the webhooks
    listening). Most owners have none and cost no query more. The answer is as of the
    statement (PostgreSQL, READ COMMITTED: its snapshot; SQLite writes one at a time): a
    first webhook committed after the statement began, even before this change commits,
    does not hear of it. A webhook hears of the changes made once it exists; one created
    while a file finishes may miss that file's event, as it could by a moment before. A
    webhook deleted meanwhile is not sent to: the deliveries are made from the query after
    commit.
    """
    changes = {"version": F("version") + 1, "updated_at": timezone.now(), **changes}
    heard = changes.get("status") in webhooks.EVENT_OF_STATUS
    sql, params = statements.prepared(
        file_id, only_if=only_if, where=where, changes=changes, with_owner_webhooks=heard
    )
    if lock_owner:
        sql, params = statements.owner_locked(sql, params, file_id=file_id)
    file = statements.execute(sql, params)
    if file is not None:
        transaction.on_commit(lambda: events.publish_file_update(file), robust=True)
        if heard and file.owner_has_webhooks:
            # Its owner's webhooks hear of DONE and FAILED (their own Celery task sends them).
            state = events.file_state(file)
            transaction.on_commit(
                lambda: webhooks.webhook_deliveries_create(state=state), robust=True
            )
    return file


def gave_up_message(attempts: int) -> str:
    return (
        f"Processing was started {attempts} times and never finished, so it was stopped. "
        "The file may be too large or damaged; try reprocessing it later."
    )


def file_start_processing(*, file_id, redelivered: bool = False) -> File | None:
    """One statement: the owner's fair share (`fair_share.worker_to_spare`), the attempt
    and the lease. PROCESSING is accepted once its lease lapsed (or, redelivered, is overdue:
    `claimable`): a task redelivered after its worker died starts again, but only
    FILE_MAX_ATTEMPTS times in all. A run that kills its worker (out of memory) would
    otherwise loop for ever; after the last attempt the file ends FAILED instead (and None is
    returned: nothing to process). The attempt number is the run's identity: its later
    writes name it (`run_of`), so a run taken over can't record anything even if it was
    alive after all."""
    limit = settings.FILE_MAX_ATTEMPTS
    unclaimed = claimable(redelivered=redelivered)
    started = transition(
        file_id,
        where=unclaimed & Q(attempts__lt=limit) & fair_share.worker_to_spare(),
        lock_owner=bool(settings.FILE_MAX_IN_FLIGHT_PER_USER),
        status=FileStatus.PROCESSING,
        progress=0.0,
        error="",
        failure_code="",
        attempts=F("attempts") + 1,
        lease_expires_at=lease_end(),
    )
    if started is None:
        transition(
            file_id,
            where=unclaimed & Q(attempts__gte=limit),
            status=FileStatus.FAILED,
            error=gave_up_message(limit),
            failure_code=FailureCode.TOO_MANY_ATTEMPTS,
            processed_at=timezone.now(),
        )
    return started


def file_record_progress(*, file_id, attempt: int, progress: float) -> File | None:
    return transition(file_id, where=run_of(attempt), progress=max(0.0, min(progress, 1.0)))


def store_thumbnail(file: File, thumbnail: bytes | None) -> str:
    if not thumbnail:
        return ""
    return default_storage.save(thumbnail_path(file, ""), ContentFile(thumbnail))


def file_finish(
    *, file: File, checksum: processors.Checksum, result: processors.Result
) -> File | None:
    thumbnail = store_thumbnail(file, result.thumbnail)
    finished = transition(
        file.pk,
        where=run_of(file.attempts),
        status=FileStatus.DONE,
        progress=1.0,
        sha256=checksum.sha256,
        content_type=checksum.content_type,
        kind=checksum.kind,
        result=result.fields,
        thumbnail=thumbnail,
        processed_at=timezone.now(),
        error="",
        failure_code="",
    )
    if finished is None and thumbnail:
        default_storage.delete(thumbnail)  # deleted or taken over meanwhile
    elif finished is not None and file.thumbnail.name:
        default_storage.delete(file.thumbnail.name)  # the previous run's
    return finished


def file_fail(*, file_id, attempt: int, code: FailureCode, error: str = "") -> File | None:
    """`error` defaults to the code's sentence in FAILURE_MESSAGES."""
    return transition(
        file_id,
        where=run_of(attempt),
        status=FileStatus.FAILED,
        error=error or FAILURE_MESSAGES[code],
        failure_code=code,
        processed_at=timezone.now(),
    )


class ThrottledProgress:
    """Records progress at most `PROGRESS_EVENTS_PER_SECOND` times a second; the final
    state is always published by `file_finish`."""

    def __init__(self, file: File):
        self.file_id, self.attempt = file.pk, file.attempts
        self.min_interval = 1.0 / settings.PROGRESS_EVENTS_PER_SECOND
        self.last_sent_at = time.monotonic()
        self.last_progress = 0.0

    def __call__(self, progress: float) -> None:
        now = time.monotonic()
        if (
            progress > self.last_progress
            and progress < 1.0
            and (now - self.last_sent_at >= self.min_interval)
        ):
            self.last_sent_at, self.last_progress = now, progress
            file_record_progress(file_id=self.file_id, attempt=self.attempt, progress=progress)


def file_processors() -> processors.OutsideProcessors:
    """The processors from outside the project (FILE_PROCESSORS), imported once a process."""
    return processors.outside_processors(tuple(settings.FILE_PROCESSORS))


def processing_limits() -> processors.ProcessingLimits:
    """The processors' limits, from settings: the one place their defaults are written."""
    return processors.ProcessingLimits(**settings.PROCESSING_LIMITS)


class SendAgain(enum.Enum):
    """Whether the task that delivered a file is sent again, and as what."""

    NO = "no"
    # Its owner has their share in flight: the same try, FILE_IN_FLIGHT_RETRY_SECONDS later
    # (a Celery retry would count against max_retries).
    DEFERRED = "deferred"
    # Redelivered while the dead run's lease still looks fresh: once more, as a takeover, for
    # when that run has missed a renewal; a run that is alive renews meanwhile and is left be.
    TAKEOVER = "takeover"


@dataclass(frozen=True)
class Handled:
    """What one delivery of a file did (`file`: as its run left it; None when nothing ran, or
    the run lost its lease) and what its task schedules: `send_again`, `countdown` seconds
    from now."""

    file: File | None
    send_again: SendAgain = SendAgain.NO
    countdown: float = 0.0


# Clock and timer slack between the database (where the lease is kept) and the worker's ETA.
TAKEOVER_MARGIN_SECONDS = 0.5


def file_process(
    *, file_id, retries_left: int = 0, redelivered: bool = False, takeover: bool = False
) -> Handled:
    """Run the file through its processors: PENDING → PROCESSING → DONE or FAILED, or leave
    it PENDING, DEFERRED, while its owner has their share of files in flight.

    Idempotent: a file already DONE or FAILED, or processing under a live lease (a duplicate
    delivery), is left alone. Every failure ends in FAILED with a message, never in
    PROCESSING, except a storage error with retries left, which raises
    TransientProcessingError for the task to retry with backoff (the lease released).
    `redelivered`: the broker delivered this task before (`claimable`); `takeover`: this
    delivery is the one a redelivery sent again (SendAgain.TAKEOVER), and is not sent again.
    """
    file = file_start_processing(file_id=file_id, redelivered=redelivered)
    if file is None and fair_share.file_defer(file_id=file_id):
        return Handled(None, SendAgain.DEFERRED, countdown=settings.FILE_IN_FLIGHT_RETRY_SECONDS)
    if file is not None:
        file = run(file, retries_left=retries_left)
    if file is None and redelivered and not takeover:
        wait = file_takeover_wait(file_id=file_id)
        if wait is not None:
            return Handled(None, SendAgain.TAKEOVER, countdown=wait + TAKEOVER_MARGIN_SECONDS)
    return Handled(file)


def run(file: File, *, retries_left: int) -> File | None:
    """The run `file_start_processing` started, timed and logged; None when it lost its
    lease (another run finishes the file)."""
    ids = {"file_id": str(file.pk)}
    logger.info("Processing started: kind %s, attempt %d", file.kind, file.attempts, extra=ids)
    with Lease(file), metrics.processing_timer(file.kind) as timer:
        ended = run_started(file=file, retries_left=retries_left)
    if ended is not None:
        timer.ended(ended.status)
        logger.info("Processing ended: %s", ended.status, extra=ids)
    return ended


def read_once(stream):
    """The stored stream, for `processors.run`, which reads each byte of it once for both
    passes (the checksum rides on the processor's reads: `processors.checksum`). A file of
    one chunk or less (most files) is held in memory, so a processor that seeks about (zip
    directories, image headers, PDF) re-reads memory, not the storage: on S3 one GET in all.
    A bigger one is streamed; what a processor seeks back to is read again."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size <= settings.PROCESSING_CHUNK_SIZE:
        return io.BytesIO(stream.read())
    return stream


def run_started(*, file: File, retries_left: int) -> File | None:
    """One run of a file `file_start_processing` started; its writes are refused once it lost
    its lease."""

    def fail(code: FailureCode, error: str = "") -> File | None:
        return file_fail(file_id=file.pk, attempt=file.attempts, code=code, error=error)

    try:
        with storage.open_stream(
            file.stored_file.name, buffer_size=settings.PROCESSING_CHUNK_SIZE
        ) as stream:
            checksum, result = processors.run(
                processors.ProcessingSource(
                    stream=read_once(stream),
                    size=file.size,
                    name=file.name,
                    content_type=file.content_type,
                    chunk_size=settings.PROCESSING_CHUNK_SIZE,
                    report_progress=ThrottledProgress(file),
                    limits=processing_limits(),
                ),
                file_processors(),
            )
    except processors.ProcessingError as error:
        return fail(error.code, str(error))
    except SoftTimeLimitExceeded:
        return fail(FailureCode.TOOK_TOO_LONG)
    except MemoryError:  # PROCESSING_MEMORY_LIMIT (project/celery.py)
        result = None  # failed below, once this block no longer holds the frames that ran out
    except FileNotFoundError:
        return fail(FailureCode.MISSING_BYTES)
    except OSError as error:
        # Retried only while a run is left to retry in: past FILE_MAX_ATTEMPTS the retry
        # would not start, and the file would end as never finishing, not as this error.
        if retries_left > 0 and file.attempts < settings.FILE_MAX_ATTEMPTS:
            raise TransientProcessingError(str(error)) from error
        logger.exception("Storage failed while processing file %s", file.pk)
        return fail(FailureCode.STORAGE_UNAVAILABLE)
    except Exception:
        logger.exception("Processing file %s failed", file.pk)
        return fail(FailureCode.UNEXPECTED)
    if result is None:
        return fail(FailureCode.TOO_COMPLEX, OUT_OF_MEMORY)
    try:
        return file_finish(file=file, checksum=checksum, result=result)
    except Exception:  # storing the result failed (a value the database refuses, a full disk)
        logger.exception("Storing the result of file %s failed", file.pk)
        return fail(FailureCode.UNEXPECTED)
