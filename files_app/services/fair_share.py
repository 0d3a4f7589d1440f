"""Fair share of the workers: one user's burst of uploads can't take every worker.

At most FILE_MAX_IN_FLIGHT_PER_USER of a user's files are PROCESSING at once. A task about to
start one more finds the file left PENDING and is sent again after
FILE_IN_FLIGHT_RETRY_SECONDS (`file_process` says so: SendAgain.DEFERRED), costing no
attempt and no Celery retry.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from ..models import File, FileStatus


def user_lock(*, user_id) -> None:
    """Lock the user's row until the transaction ends, so that what is counted for them (files
    in flight here; their upload rate and quota in upload.py) is counted by one request or
    worker at a time."""
    get_user_model().objects.select_for_update().filter(pk=user_id).exists()


def file_may_start(*, file_id) -> bool:
    """Whether the file's owner has a worker to spare; call it in the transaction of the start
    UPDATE. The owner's row stays locked until that commits, so workers starting files of one
    owner count one after the other (on PostgreSQL; SQLite serialises writes anyway).

    A file that has to wait gets its `updated_at` touched (no new version: nothing a client
    sees changed), so the recovery sweep leaves it to its re-sent task; if that task is ever
    lost, the file stops being touched and the sweep queues it after FILE_RECOVERY_AFTER."""
    cap = settings.FILE_MAX_IN_FLIGHT_PER_USER
    if not cap:
        return True
    pending = File.objects.filter(pk=file_id, status=FileStatus.PENDING)
    owner_id = pending.values_list("owner_id", flat=True).first()
    if owner_id is None:
        return True  # gone or finished (nothing to do), or PROCESSING: already counted
    user_lock(user_id=owner_id)
    if File.objects.filter(owner_id=owner_id, status=FileStatus.PROCESSING).count() < cap:
        return True
    pending.update(updated_at=timezone.now())
    return False
