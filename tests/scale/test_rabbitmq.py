"""RabbitMQ as the broker (CELERY_BROKER_URL=amqp://…), with two worker processes on the
default (prefork) pool: they share the queue, no file runs twice at once and none is skipped;
and a worker killed mid-file (SIGKILL of its whole process group) has its file finished by the
other one within seconds. RabbitMQ hands the dead worker's unacknowledged task to the other
worker as soon as the connection drops; the redelivered task takes the file over once the dead
run missed a lease renewal (lease.py: `claimable`), with no sweep running here.

Each test gets a RabbitMQ virtual host of its own. Skipped when RabbitMQ can't be reached on
127.0.0.1:5672, unless REQUIRE_RABBITMQ=1 (CI), which makes that a failure."""

import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models.functions import Now

from files_app import services
from files_app.models import File, FileStatus
from files_app.services.lease import overdue_after
from tests.support.files import make_file
from tests.support.operations import upload_blocking
from tests.support.processes import Server, process_group, wait_until
from tests.support.scale import (
    csv,
    rabbitmq_reachable,
    rabbitmq_vhost,
    start_worker,
    succeeded,
    wait_for_workers,
)

pytestmark = pytest.mark.django_db(transaction=True)

FILES = 8
ROWS = 40_000  # a fraction of a second each: both workers get some
BIG_ROWS = 400_000  # a few seconds: long enough to be killed in
# The redelivered task waits for one missed renewal (overdue_after: 15 s by default), then
# the file is processed again from the start.
DONE_WITHIN_SECONDS = 40


@pytest.fixture
def broker():
    if not rabbitmq_reachable():
        if os.environ.get("REQUIRE_RABBITMQ") == "1":
            pytest.fail("REQUIRE_RABBITMQ=1 but RabbitMQ is not reachable on 127.0.0.1:5672")
        pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672 (REQUIRE_RABBITMQ=1: fail)")
    with rabbitmq_vhost() as url:
        yield url


def upload_file(server: Server, token: str, name: str, content: bytes) -> File:
    upload_blocking(server, token, name, content)
    return File.objects.get(name=name)


class Deployment:
    """A web process and two prefork workers (one pool process each) on `broker`."""

    def __init__(self, broker: str, logs, env: dict | None = None):
        self.env = {"CELERY_BROKER_URL": broker, **(env or {})}
        self.logs = [logs / f"rabbitmq-worker-{name}.log" for name in ("a", "b")]
        for log in self.logs:
            log.unlink(missing_ok=True)
        self.web = Server("uvicorn", logs, env=self.env)
        self.workers = [
            start_worker(self.env, log, log.stem, "--concurrency", "1") for log in self.logs
        ]
        wait_for_workers(broker, [log.stem for log in self.logs])

    def stop(self):
        for worker in self.workers:
            worker.stop()
        self.web.stop()


def test_two_workers_share_the_queue_each_file_once(broker, process_logs, user, token):
    deployment = Deployment(broker, process_logs)
    try:
        content = csv(ROWS)
        files = [
            upload_file(deployment.web, token, f"shared-{n}.csv", content) for n in range(FILES)
        ]
        done = File.objects.filter(pk__in=[f.pk for f in files], status=FileStatus.DONE)
        wait_until(lambda: done.count() == FILES, 120, "not every file was processed")
        # Started once each (a second start, at once or later, counts an attempt).
        assert sorted(done.values_list("attempts", flat=True)) == [1] * FILES
        assert all(f.result["row_count"] == ROWS for f in done)
        # A task logs "succeeded" after it has marked its file DONE: wait for the last line.
        wait_until(
            lambda: sum(succeeded(log) for log in deployment.logs) >= FILES,
            30,
            "a worker never logged its task's end",
        )
        counts = [succeeded(log) for log in deployment.logs]
        assert sum(counts) == FILES and min(counts) > 0, counts  # both took some, once each
    finally:
        deployment.stop()


def test_a_killed_workers_file_is_finished_by_the_other_within_seconds(
    broker, process_logs, user, token
):
    deployment = Deployment(broker, process_logs)
    try:
        file = upload_file(deployment.web, token, "doomed.csv", csv(BIG_ROWS))
        started = File.objects.filter(pk=file.pk, status=FileStatus.PROCESSING, progress__gt=0)
        wait_until(started.exists, 60, "no worker started the file")
        holder = next(i for i, log in enumerate(deployment.logs) if "received" in log.read_text())
        doomed, survivor = deployment.workers[holder], deployment.logs[1 - holder]
        assert len(process_group(doomed.pid)) >= 2, "no pool child to kill"
        doomed.kill()  # SIGKILL to its whole process group
        killed_at = time.monotonic()
        doomed.process.wait()
        done = File.objects.filter(pk=file.pk, status=FileStatus.DONE)
        wait_until(
            done.exists, DONE_WITHIN_SECONDS, f"not DONE within {DONE_WITHIN_SECONDS} s of the kill"
        )
        print(f"DONE {time.monotonic() - killed_at:.1f} s after the kill")
        file.refresh_from_db()
        assert file.attempts == 2  # the killed run, then the other worker's
        assert file.result["row_count"] == BIG_ROWS
        assert succeeded(survivor) >= 1
    finally:
        deployment.stop()


def test_a_redelivered_task_takes_over_only_a_run_that_missed_a_renewal(user):
    """Where the seconds come from, on the database alone: a redelivery leaves a run that
    renews in time alone (a stray duplicate), and takes over one that missed a renewal,
    long before its lease lapses (what a fresh delivery and the sweep wait for)."""
    file = make_file(user, b"taken over once")
    running = services.file_start_processing(file_id=file.pk)
    assert services.file_start_processing(file_id=file.pk, redelivered=True) is None
    wait = services.file_takeover_wait(file_id=file.pk)
    assert overdue_after() - 2 < wait <= overdue_after()
    # Last renewed a renewal interval and a half (and a second) ago: the run missed one.
    unrenewed = timedelta(seconds=overdue_after() + 1)
    lease = timedelta(seconds=settings.FILE_LEASE_SECONDS)
    File.objects.filter(pk=file.pk).update(lease_expires_at=Now() + lease - unrenewed)
    assert services.file_takeover_wait(file_id=file.pk) == 0
    assert services.file_start_processing(file_id=file.pk) is None  # the lease has not lapsed
    rescuer = services.file_start_processing(file_id=file.pk, redelivered=True)
    assert rescuer is not None and rescuer.attempts == running.attempts + 1
    # The run taken over can't record anything (its attempt is no longer the file's).
    assert (
        services.file_record_progress(file_id=file.pk, attempt=running.attempts, progress=0.5)
        is None
    )
