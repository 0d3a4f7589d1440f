"""The sweep that finds work which stopped moving: a task lost with Redis, a worker killed
before its task was redelivered. Runs every FILE_RECOVERY_INTERVAL seconds (Celery beat) and
on demand (`manage.py recover_files`)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import File
from .processing import ACTIVE_STATUSES, FileStatus, gave_up_message, transition
from .upload import enqueue, reprocess_requests_prune

logger = logging.getLogger(__name__)


def files_recover(*, now=None) -> dict[str, int]:
    """Re-queue PENDING/PROCESSING files untouched for FILE_RECOVERY_AFTER seconds; fail those
    that already had FILE_MAX_ATTEMPTS runs. Returns how many of each."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.FILE_RECOVERY_AFTER)
    stuck = File.objects.filter(status__in=ACTIVE_STATUSES, updated_at__lt=cutoff)
    counts = {"requeued": 0, "failed": 0}
    still_stuck = {"only_if": ACTIVE_STATUSES, "where": {"updated_at__lt": cutoff}}
    for file_id, attempts in stuck.values_list("id", "attempts").iterator():
        with transaction.atomic():
            if attempts >= settings.FILE_MAX_ATTEMPTS:
                if transition(file_id, **still_stuck, status=FileStatus.FAILED,
                              error=gave_up_message(attempts), processed_at=timezone.now()):
                    counts["failed"] += 1
            elif transition(file_id, **still_stuck, status=FileStatus.PENDING, progress=0.0):
                transaction.on_commit(lambda file_id=file_id: enqueue(file_id), robust=True)
                counts["requeued"] += 1
    reprocess_requests_prune(now=now)
    if any(counts.values()):
        logger.warning("Recovered stuck files: %s", counts)
    return counts
