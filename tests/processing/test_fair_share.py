"""Fair share: one user's burst can't fill every worker. A real Celery worker with more
threads than the per-user cap takes one user's burst: never more than the cap of their files
PROCESSING at once (watched in the database), the rest wait PENDING without losing an attempt,
and another user's file is processed meanwhile."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone

from files_app import dispatch, services
from files_app.models import File, FileStatus
from files_app.tasks import process_file
from tests.support.processes import start_celery, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 2
THREADS = 4  # more than the cap: without it, one user's burst would take them all
BURST = 6
ROWS = 250_000  # ~5 MB of CSV: about a second of processing each on the 2-core machine
DEADLINE_SECONDS = 120


def make_file(owner, name: str, content: bytes) -> File:
    """A PENDING row last touched an hour ago, so a deferral (which touches it) shows."""
    file = File(id=uuid.uuid4(), owner=owner, name=name, size=len(content))
    file.stored_file.save("ignored", ContentFile(content), save=False)
    file.save(force_insert=True)
    File.objects.filter(pk=file.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    return file


@pytest.fixture
def capped_worker(process_logs):
    """A worker of its own on a queue of its own (the session's worker, if running, has the
    default cap and must not take these tasks); deferred tasks are sent again to it."""
    queue = f"fair-share-{uuid.uuid4().hex[:8]}"
    worker = start_celery(
        {"FILE_MAX_IN_FLIGHT_PER_USER": str(CAP), "FILE_IN_FLIGHT_RETRY_SECONDS": "0.1"},
        process_logs / f"{queue}.log",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(THREADS),
        "-Q",
        queue,
        "--without-gossip",
        "--without-mingle",
        hostname=f"{queue}@%h",
    )
    # Ready before anything is sent: on Redis, a message sent to a queue no consumer has
    # declared yet has no binding to go to, and is dropped.
    from project.celery import app

    try:
        worker.wait_ready(app)
        yield queue
    finally:
        worker.stop()


class Watch:
    """Looks at the burst in the database on every poll, asserting the cap each time."""

    def __init__(self, owner, other: File):
        self.mine = File.objects.filter(owner=owner)
        self.other = File.objects.filter(pk=other.pk, status=FileStatus.DONE)
        self.since = timezone.now() - timedelta(minutes=1)
        self.most_in_flight, self.saw_deferral, self.other_done_first = 0, False, False

    def __call__(self) -> bool:
        """Whether the whole burst is DONE."""
        in_flight = self.mine.filter(status=FileStatus.PROCESSING).count()
        assert in_flight <= CAP, f"{in_flight} files of one user PROCESSING at once"
        self.most_in_flight = max(self.most_in_flight, in_flight)
        unfinished = self.mine.filter(~Q(status=FileStatus.DONE))
        # Waiting, not started: PENDING, yet touched by a deferred task since it was made.
        self.saw_deferral |= unfinished.filter(
            status=FileStatus.PENDING, updated_at__gt=self.since
        ).exists()
        self.other_done_first |= self.other.exists() and unfinished.exists()
        return not unfinished.exists()


def test_one_users_burst_never_has_more_than_the_cap_in_flight(user, other_user, capped_worker):
    content = ("id,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(ROWS))).encode()
    burst = [make_file(user, f"burst-{n}.csv", content) for n in range(BURST)]
    other = make_file(other_user, "other.txt", b"someone else's file\n")
    for file in [*burst, other]:
        process_file.apply_async((str(file.pk),), queue=capped_worker)

    watch = Watch(user, other)
    wait_until(watch, DEADLINE_SECONDS, "the burst was not processed in time")
    assert watch.most_in_flight == CAP, "the burst never used its whole share"
    assert watch.saw_deferral, "no file of the burst was ever left waiting"
    assert watch.other_done_first, "the other user's file waited for the burst"
    # Waiting costs no attempt: each file of the burst was started exactly once.
    assert list(watch.mine.values_list("attempts", flat=True)) == [1] * BURST
    assert all(file.result["row_count"] == ROWS for file in watch.mine)


def test_a_file_over_the_cap_stays_pending_without_losing_an_attempt(user, settings, monkeypatch):
    settings.FILE_MAX_IN_FLIGHT_PER_USER = 1
    busy = make_file(user, "busy.txt", b"busy")
    waiting = make_file(user, "waiting.txt", b"waiting")
    File.objects.filter(pk=busy.pk).update(status=FileStatus.PROCESSING, updated_at=timezone.now())
    assert services.file_process(file_id=waiting.pk).send_again is services.SendAgain.DEFERRED
    waited = File.objects.get(pk=waiting.pk)
    assert (waited.status, waited.attempts, waited.version) == (FileStatus.PENDING, 0, 1)
    # Touched by the try: the sweep leaves it to its re-sent task, and queues it only once
    # that task is lost (no try touches it for FILE_RECOVERY_AFTER).
    queued = []
    monkeypatch.setattr(dispatch, "file_enqueue", lambda *, file_id, **_: queued.append(file_id))
    assert services.files_recover() == {"requeued": 0, "failed": 0, "expired": 0}
    later = timezone.now() + timedelta(seconds=settings.FILE_RECOVERY_AFTER + 1)
    services.files_recover(now=later)
    assert waiting.pk in queued
    # Its owner's other file done, it starts; the cap off (0), nothing waits.
    File.objects.filter(pk=busy.pk).update(status=FileStatus.DONE)
    assert services.file_process(file_id=waiting.pk).file.status == FileStatus.DONE
    settings.FILE_MAX_IN_FLIGHT_PER_USER = 0
    File.objects.filter(pk=busy.pk).update(status=FileStatus.PROCESSING)
    again = make_file(user, "again.txt", b"again")
    assert services.file_process(file_id=again.pk).file.status == FileStatus.DONE
