"""The sweep that finds work which stopped moving: a worker killed or frozen mid-file (its
lease lapsed), a task lost with Redis, an upload (direct or tus) never completed. Runs every
FILE_RECOVERY_INTERVAL seconds (Celery beat) and on demand (`manage.py recover_files`)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import dispatch, metrics
from ..failures import FailureCode
from ..models import File, FileStatus
from .deletion import file_row_delete
from .processing import gave_up_message, transition
from .reprocess import reprocess_requests_prune
from .reservations import upload_reservations_prune

logger = logging.getLogger(__name__)


def stuck_files(cutoff) -> Q:
    """A PROCESSING file is stuck once its run's lease lapsed: tens of seconds, whatever the
    processing time limit, since a live run renews it. A PENDING file is only waiting in the
    queue, maybe behind a long backlog, and queueing it again would run it twice, so it is
    stuck only once untouched for FILE_RECOVERY_AFTER (its task lost with Redis). So is a
    PROCESSING file without a lease (started before leases existed). Leases are compared on
    the database's clock, the one they are set by (`lease.lease_end`)."""
    lapsed = Q(lease_expires_at__lte=Now()) | Q(
        lease_expires_at__isnull=True, updated_at__lt=cutoff
    )
    return Q(status=FileStatus.PENDING, updated_at__lt=cutoff) | (
        Q(status=FileStatus.PROCESSING) & lapsed
    )


def files_recover(*, now=None) -> dict[str, int]:
    """Re-queue stuck files (`stuck_files`); fail those that already had FILE_MAX_ATTEMPTS
    runs. Each change is conditional on the file still being stuck, so a run that finishes
    meanwhile, or a second sweep, is never undone. Also forgets the reprocess records the
    rate window no longer counts, the reservations of uploads whose web process died, and
    deletes direct uploads nobody completed. `now` moves the
    clock of these windows (leases are compared on the database's own clock). Returns how
    many files were re-queued, failed and expired."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.FILE_RECOVERY_AFTER)
    still_stuck = stuck_files(cutoff)
    counts = {"requeued": 0, "failed": 0}
    rows = File.objects.filter(still_stuck).values_list("id", "attempts")
    for file_id, attempts in rows.iterator():
        with transaction.atomic():
            if attempts >= settings.FILE_MAX_ATTEMPTS:
                if transition(
                    file_id,
                    where=still_stuck,
                    status=FileStatus.FAILED,
                    error=gave_up_message(attempts),
                    failure_code=FailureCode.TOO_MANY_ATTEMPTS,
                    processed_at=timezone.now(),
                ):
                    counts["failed"] += 1
            elif transition(
                file_id,
                where=still_stuck,
                status=FileStatus.PENDING,
                progress=0.0,
                lease_expires_at=None,
            ):
                transaction.on_commit(
                    lambda file_id=file_id: dispatch.file_enqueue(file_id=file_id, recovered=True),
                    robust=True,
                )
                counts["requeued"] += 1
    counts["expired"] = files_expire_awaiting(now=now)
    reprocess_requests_prune(now=now)
    upload_reservations_prune()
    for outcome, count in counts.items():
        metrics.RECOVERED.labels(outcome=outcome).inc(count)
    if any(counts.values()):
        logger.warning("Recovered stuck files: %s", counts)
    return counts


def files_expire_awaiting(*, now=None) -> int:
    """Delete the direct uploads nobody completed, DIRECT_UPLOAD_GRACE seconds after their
    URL expired (S3 checks the expiry when a transfer starts, and a big one may still be
    running), and the tus uploads past their `expires_at`; their bytes, if any, go with them
    (signals.py: the object or partial file, and a tus upload's multipart upload). Returns
    how many."""
    now = now or timezone.now()
    age = timedelta(seconds=settings.DIRECT_UPLOAD_URL_EXPIRE + settings.DIRECT_UPLOAD_GRACE)
    expired = 0
    awaiting = File.objects.filter(
        Q(resumable__isnull=True, updated_at__lt=now - age) | Q(resumable__expires_at__lt=now),
        status=FileStatus.AWAITING_UPLOAD,
    )
    # One being written now (a tus PATCH, a completion) is left to its writer.
    awaiting = awaiting.exclude(writer__expires_at__gt=Now())
    for file_id in awaiting.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            # Locked and checked again: a completion that won the race is kept.
            file = awaiting.select_for_update(of=("self",)).filter(pk=file_id).first()
            if file is not None:
                file_row_delete(file=file)
                expired += 1
    return expired
