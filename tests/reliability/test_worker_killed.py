"""A worker killed with SIGKILL mid-file, its whole process group (the main process and its
pool child): a new worker finishes the file within a minute, DONE exactly once, and a
subscriber sees its states in order with a single DONE. Several times over.

The broker would hand the dead worker's unacknowledged task out again only after the
visibility timeout (an hour by default); what notices is the file's lease, which nobody renews
any more: the recovery sweep queues the file again once it lapsed. Everything runs on the
default settings (a 30 s lease) except the sweep's interval on beat, so the minute is what a
deployment gets, give or take its FILE_RECOVERY_INTERVAL. These workers, their beat and their
server use a broker of their own (another Redis database), so the session's worker can't
take the tasks."""

import time

import pytest

from files_app.models import File, FileStatus
from tests.support.operations import upload_blocking
from tests.support.processes import (
    Server,
    process_group,
    separate_broker_url,
    start_celery,
    wait_until,
)
from tests.support.wsclient import Watcher

pytestmark = pytest.mark.django_db(transaction=True)

# Each round waits out the real 30 s lease: one round proves it, more only cost CI minutes.
ROUNDS = 1
SWEEP_INTERVAL_SECONDS = 2
DONE_WITHIN_SECONDS = 60
ROWS = 400_000  # ~15 MB of CSV: a few seconds of processing, long enough to be killed in


def start_worker(env, log):
    """The production pool (prefork), one child: a main process and the child running the
    file, one task at a time (a second delivery would wait for the first to end)."""
    return start_celery(
        env, log, "worker", "--concurrency", "1", "--without-gossip", "--without-mingle"
    )


def test_killed_worker_file_is_done_within_a_minute_exactly_once(
    django_db_setup, process_logs, user, token, tmp_path
):
    env = {
        "CELERY_BROKER_URL": separate_broker_url(14),
        "FILE_RECOVERY_INTERVAL": str(SWEEP_INTERVAL_SECONDS),
    }
    server = Server("uvicorn", process_logs, env=env)
    watcher = Watcher(server, token, user)
    log = process_logs / "killed-workers.log"
    beat = start_celery(
        env,
        process_logs / "killed-workers-beat.log",
        "beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
    )
    content = ("id,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(ROWS))).encode()
    finished, workers = [], []
    try:
        for round_number in range(ROUNDS):
            doomed = start_worker(env, log)
            workers.append(doomed)
            upload_blocking(server, token, f"round-{round_number}.csv", content)
            file = File.objects.get(name=f"round-{round_number}.csv")
            started = File.objects.filter(pk=file.pk, status=FileStatus.PROCESSING, progress__gt=0)
            wait_until(started.exists, 60, "the first worker never started the file")
            assert len(process_group(doomed.pid)) >= 2, "no pool child to kill"
            doomed.kill()  # SIGKILL to its whole process group
            killed_at = time.monotonic()
            doomed.process.wait()
            wait_until(
                lambda doomed=doomed: not process_group(doomed.pid),
                10,
                "the pool child outlived SIGKILL",
            )
            rescuer = start_worker(env, log)
            workers.append(rescuer)
            done = File.objects.filter(pk=file.pk, status=FileStatus.DONE)
            wait_until(
                done.exists,
                DONE_WITHIN_SECONDS - (time.monotonic() - killed_at),
                f"round {round_number}: not DONE within a minute of the kill",
            )
            rescuer.stop()
            file.refresh_from_db()
            assert file.attempts == 2  # started by the killed worker, then by the rescuer
            assert file.result["row_count"] == ROWS
            wait_until(lambda file=file: watcher.saw_done(file.pk), 30, "no DONE event")
            finished.append(file)
    finally:
        for process in [*workers, beat]:
            process.stop()
        watcher.close()
        server.stop()
    assert len(finished) == ROUNDS
    # Checked once every round is over, so a late duplicate of an early round would show.
    for file in finished:
        events = watcher.events[str(file.pk)]
        versions = [event["version"] for event in events]
        assert versions == sorted(set(versions)), versions  # in order, no repeats
        assert [event["status"] for event in events].count("DONE") == 1, events
        assert events[-1] == {**events[-1], "status": "DONE", "version": file.version}
