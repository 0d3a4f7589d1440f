"""Fair share of the workers: one user's burst of uploads can't take every worker.

At most FILE_MAX_IN_FLIGHT_PER_USER of a user's files are PROCESSING at once. A task about to
start one more finds the file left PENDING and is sent again after
FILE_IN_FLIGHT_RETRY_SECONDS (`file_process` says so: SendAgain.DEFERRED), costing no
attempt and no Celery retry.
"""

import functools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.lookups import LessThan
from django.utils import timezone

from ..models import File, FileStatus


def user_lock(*, user_id) -> None:
    """Lock the user's row until the transaction ends, so that what is counted for them (files
    in flight here; their upload rate and quota in upload.py) is counted by one request or
    worker at a time. NO KEY UPDATE, not UPDATE: it must not stop the foreign-key check a
    commit makes on the user (FOR KEY SHARE) of a transaction holding the owner's counter
    row, which would then wait for us while we wait for it (a deadlock)."""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).exists()


def worker_to_spare() -> Q:
    """Whether the file's owner has a worker to spare: a condition of the start's UPDATE
    (processing.py, `file_start_processing`), which locks the owner's row first in the same
    round trip, so that workers starting files of one owner count one after the other (on
    PostgreSQL; SQLite serialises writes anyway). A file already PROCESSING (a takeover) is
    counted already."""
    return below_cap(settings.FILE_MAX_IN_FLIGHT_PER_USER)


@functools.cache
def below_cap(cap: int) -> Q:
    """One Q per cap: its subquery's queryset is equal only to itself, and the same object
    is what lets `statements` compile it once."""
    if not cap:
        return Q()
    in_flight = (
        File.objects.filter(owner_id=OuterRef("owner_id"), status=FileStatus.PROCESSING)
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT", output_field=IntegerField()))
    )
    under_cap = LessThan(Subquery(in_flight.values("count")), cap)
    return ~Q(status=FileStatus.PENDING) | Q(under_cap)


def file_defer(*, file_id) -> bool:
    """After a start that did not happen: whether the file waits for its owner's share (it
    is still PENDING, the cap is on). Such a file gets its `updated_at` touched (no new
    version: nothing a client sees changed), so the recovery sweep leaves it to its re-sent
    task; if that task is ever lost, the file stops being touched and the sweep queues it
    after FILE_RECOVERY_AFTER."""
    if not settings.FILE_MAX_IN_FLIGHT_PER_USER:
        return False
    pending = File.objects.filter(pk=file_id, status=FileStatus.PENDING)
    return bool(pending.update(updated_at=timezone.now()))
