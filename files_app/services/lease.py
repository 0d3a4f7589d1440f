"""A running file's lease: held by the run that started it, renewed by that run's worker
while it works, and lapsed when the worker died or froze; the recovery sweep (and a task the
broker redelivered) may then take the file over. A run is told by its attempt number: its
writes name it (`run_of`), so a run whose file was taken over can't record anything."""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.db.models.functions import Now

from ..models import File, FileStatus

logger = logging.getLogger(__name__)


def lease_end():
    """Leases are set and compared on the database's clock (`Now()`), the one clock every
    worker and the sweep share: a worker whose own clock runs ahead can't take over a live
    run, nor one whose clock runs behind keep a dead run's file waiting."""
    return Now() + timedelta(seconds=settings.FILE_LEASE_SECONDS)


# A file's last run is over when its lease has lapsed (or it never had one: released, or
# started before leases existed).
LEASE_LAPSED = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=Now())
# A run may start on a file that is queued, or whose last run's lease lapsed (its worker died);
# never on a file whose run is alive (a duplicate delivery), nor on a DONE or FAILED one.
UNCLAIMED = Q(status=FileStatus.PENDING) | (Q(status=FileStatus.PROCESSING) & LEASE_LAPSED)


def overdue_after() -> float:
    """Seconds without a renewal after which a run has missed one (a renewal interval and a
    half: half an interval of slack for a slow renewal), at most the whole lease."""
    return min(1.5 * settings.FILE_LEASE_RENEW_INTERVAL, settings.FILE_LEASE_SECONDS)


def lease_overdue() -> Q:
    """A lease not renewed for `overdue_after` seconds: its run missed a renewal."""
    unrenewed_for = timedelta(seconds=settings.FILE_LEASE_SECONDS - overdue_after())
    return Q(lease_expires_at__lte=Now() + unrenewed_for)


def claimable(*, redelivered: bool) -> Q:
    """What a run may start on. A task the broker redelivered (RabbitMQ: its worker's
    connection dropped, or its pool process died) is a second sign that the run holding the
    file is dead, so it needs less from the lease: one missed renewal, not a lapsed lease.
    Seconds instead of FILE_LEASE_SECONDS; and a run that is alive renews in time, so a stray
    redelivery still leaves it alone."""
    if not redelivered:
        return UNCLAIMED
    return Q(status=FileStatus.PENDING) | (
        Q(status=FileStatus.PROCESSING) & (LEASE_LAPSED | lease_overdue())
    )


def run_of(attempt: int) -> dict:
    """The rows a run may still write: its file PROCESSING under its own attempt. Once the
    sweep re-queued the file (PENDING) or another run started it (attempts + 1), nothing."""
    return {"status": FileStatus.PROCESSING, "attempts": attempt}


def file_takeover_wait(*, file_id) -> float | None:
    """Seconds until a redelivered task may take the file over (its lease is overdue, on the
    database's clock), or None when there is nothing to wait for: the file is not PROCESSING
    under a lease (finished, deleted, or queued again)."""
    lease = (
        File.objects.filter(
            pk=file_id, status=FileStatus.PROCESSING, lease_expires_at__isnull=False
        )
        .annotate(now=Now())
        .values_list("lease_expires_at", "now")
        .first()
    )
    if lease is None:
        return None
    expires_at, now = lease
    overdue_at = expires_at - timedelta(seconds=settings.FILE_LEASE_SECONDS - overdue_after())
    return max(0.0, (overdue_at - now).total_seconds())


def file_renew_lease(*, file_id, attempt: int) -> bool:
    """Not a state change: no version bump, no event, just a conditional UPDATE. False when
    the run lost its file (taken over, finished, deleted): there is nothing left to hold."""
    return bool(
        File.objects.filter(pk=file_id, **run_of(attempt)).update(lease_expires_at=lease_end())
    )


def file_release_lease(*, file_id, attempt: int) -> None:
    """A run that ends without finishing its file (a storage error to be retried) lets the
    next delivery or the sweep take it at once instead of after the lease."""
    File.objects.filter(pk=file_id, **run_of(attempt)).update(lease_expires_at=Now())


class Lease:
    """Renews a run's lease from a daemon thread every FILE_LEASE_RENEW_INTERVAL seconds for
    as long as the run lasts, so a single long step (a big image decoding, a slow disk) keeps
    it as well as a run that reports progress. A killed worker renews nothing: its file is
    taken over FILE_LEASE_SECONDS after the last renewal at most, whatever the processing
    time limit. The thread's database connection is closed when the run ends."""

    def __init__(self, file: File):
        self.file_id, self.attempt = file.pk, file.attempts
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.keep, daemon=True, name=f"lease-{file.pk}")

    def __enter__(self) -> "Lease":
        self.thread.start()
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self.stopped.set()
        self.thread.join()
        if error_type is None:
            return
        try:  # the run's own error is what the task must see, not this one's
            file_release_lease(file_id=self.file_id, attempt=self.attempt)
        except DatabaseError:
            logger.warning("Could not release the lease of file %s", self.file_id)

    def keep(self) -> None:
        try:
            while not self.stopped.wait(settings.FILE_LEASE_RENEW_INTERVAL):
                connection.close_if_unusable_or_obsolete()
                try:
                    if not file_renew_lease(file_id=self.file_id, attempt=self.attempt):
                        return
                except DatabaseError:  # down for a moment: the next renewal may get through
                    logger.warning("Could not renew the lease of file %s", self.file_id)
        finally:
            connection.close()
