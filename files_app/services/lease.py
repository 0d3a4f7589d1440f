"""A running file's lease: held by the run that started it, renewed by that run's worker
while it works, and lapsed when the worker died or froze; the recovery sweep (and a task the
broker redelivered) may then take the file over. A run is told by its attempt number: its
writes name it (`run_of`), so a run whose file was taken over can't record anything."""

import functools
import logging
import operator
import os
import threading
import time
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


def leases_renew(runs: set) -> int:
    """Renew the leases of every run in `runs` ((file id, attempt) pairs) in one UPDATE. Not a state
    change: no version bump, no event. A run that lost its file (taken over, finished,
    deleted) matches nothing. Returns how many were renewed."""
    if not runs:
        return 0
    alive = functools.reduce(
        operator.or_, (Q(pk=file_id, **run_of(attempt)) for file_id, attempt in runs)
    )
    return File.objects.filter(alive).update(lease_expires_at=lease_end())


def file_release_lease(*, file_id, attempt: int) -> None:
    """A run that ends without finishing its file (a storage error to be retried) lets the
    next delivery or the sweep take it at once instead of after the lease."""
    File.objects.filter(pk=file_id, **run_of(attempt)).update(lease_expires_at=Now())


class Renewer:
    """The one thread of a worker process that renews the leases of all its runs, every
    FILE_LEASE_RENEW_INTERVAL seconds in one UPDATE, for as long as they last: a single long
    step (a big image decoding, a slow disk) keeps its lease as well as a run that reports
    progress. A killed worker renews nothing: its files are taken over FILE_LEASE_SECONDS
    after the last renewal at most, whatever the processing time limit.

    Started by a run when none is running in this process (a prefork child starts its own:
    threads do not survive a fork), it ends once it finds no run left. It connects to the
    database for each renewal only, so an idle worker holds no connection for it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs: set = set()  # (file id, attempt) of the runs in progress here
        self.running = False
        self.held = threading.Event()  # a run was added: the interval is read again

    def hold(self, run: tuple) -> None:
        with self.lock:
            if not self.running:
                self.running = True
                threading.Thread(target=self.keep, daemon=True, name="lease-renewer").start()
            self.runs.add(run)
        self.held.set()

    def let_go(self, run: tuple) -> None:
        with self.lock:
            self.runs.discard(run)

    def keep(self) -> None:
        """Renews every FILE_LEASE_RENEW_INTERVAL seconds, read again whenever a run is added
        (a shorter one then applies from the last renewal, not after the longer wait)."""
        renewed_at = time.monotonic()
        while True:
            wait = renewed_at + settings.FILE_LEASE_RENEW_INTERVAL - time.monotonic()
            if wait > 0 and self.held.wait(wait):
                self.held.clear()
                continue
            renewed_at = time.monotonic()
            with self.lock:
                if not self.runs:
                    self.running = False
                    return
                runs = set(self.runs)
            try:
                leases_renew(runs)
            except DatabaseError:  # down for a moment: the next renewal may get through
                logger.warning("Could not renew the leases of %d files", len(runs))
            finally:
                connection.close()


renewer = Renewer()
# A forked child (a prefork pool process) starts with no run and no thread, whatever the
# parent had.
os.register_at_fork(after_in_child=renewer.__init__)


class Lease:
    """A run's hold on its file's lease, renewed by the process's `renewer` while the run
    lasts; released at once when the run ends with an error (to be retried)."""

    def __init__(self, file: File):
        self.file_id, self.attempt = file.pk, file.attempts

    def __enter__(self) -> "Lease":
        renewer.hold((self.file_id, self.attempt))
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        renewer.let_go((self.file_id, self.attempt))
        if error_type is None:
            return
        try:  # the run's own error is what the task must see, not this one's
            file_release_lease(file_id=self.file_id, attempt=self.attempt)
        except DatabaseError:
            logger.warning("Could not release the lease of file %s", self.file_id)
