"""Reprocessing a finished file: queued again, counted against the upload rate."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import dispatch, selectors
from ..models import File, FileStatus, ReprocessRequest
from .fair_share import user_lock
from .processing import FINISHED_STATUSES, transition
from .upload import RATE_WINDOW, rate_limited

logger = logging.getLogger(__name__)


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
    logger.info("Queued again for processing", extra={"file_id": str(queued.pk)})
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
