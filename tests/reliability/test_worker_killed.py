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

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from files_app.models import File, FileStatus
from schema.ids import decode_file_id
from tests.conftest import BASE_DIR, Server, stop, subprocess_env, wait_until
from tests.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

# Each round waits out the real 30 s lease: one round proves it, more only cost CI minutes.
ROUNDS = 1
SWEEP_INTERVAL_SECONDS = 2
DONE_WITHIN_SECONDS = 60
ROWS = 400_000  # ~15 MB of CSV: a few seconds of processing, long enough to be killed in
UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"
WATCH_ALL = "subscription { fileUpdates { id status version } }"


def broker_url() -> str:
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/14"


def start_celery(env, log, *arguments):
    """In a session of its own, so its whole process group can be killed, and nothing else."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", *arguments, "--loglevel", "INFO"],
        cwd=BASE_DIR, env={**subprocess_env(), **env}, stdout=log.open("ab"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def start_worker(env, log):
    """The production pool (prefork), one child: a main process and the child running the
    file, one task at a time (a second delivery would wait for the first to end)."""
    return start_celery(env, log, "worker", "--concurrency", "1", "--without-gossip",
                        "--without-mingle")


def process_group(group_id: int) -> list[int]:
    """The live processes of a process group (Linux /proc; zombies left out)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group_id and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class Watcher:
    """A live `fileUpdates` subscription to all of the user's files, read on a loop of its
    own (the test itself blocks on processes), recording every event per file id."""

    def __init__(self, server, token, user):
        self.events: dict[str, list[dict]] = defaultdict(list)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.subscription = self.call(self.open(server, token, user))
        self.reader = asyncio.run_coroutine_threadsafe(self.read(), self.loop)

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def open(self, server, token, user):
        subscription = await Subscription.open(server.ws_url, token=token)
        await subscription.subscribe(WATCH_ALL, owner=user)  # returns once it has joined
        return subscription

    async def read(self):
        while True:
            event = await self.subscription.next_file(timeout=None)
            self.events[str(decode_file_id(event["id"]))].append(event)

    def saw_done(self, file_id) -> bool:
        assert not self.reader.done(), self.reader.result()  # raises what stopped it
        return any(event["status"] == "DONE" for event in self.events[str(file_id)])

    def close(self):
        self.reader.cancel()
        self.call(self.subscription.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_killed_worker_file_is_done_within_a_minute_exactly_once(
        django_db_setup, process_logs, user, token, tmp_path):
    env = {"CELERY_BROKER_URL": broker_url(),
           "FILE_RECOVERY_INTERVAL": str(SWEEP_INTERVAL_SECONDS)}
    server = Server("uvicorn", process_logs, env=env)
    watcher = Watcher(server, token, user)
    log = process_logs / "killed-workers.log"
    beat = start_celery(env, process_logs / "killed-workers-beat.log", "beat", "--schedule",
                        str(tmp_path / "beat-schedule"))
    content = ("id,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(ROWS))).encode()
    finished, workers = [], []
    try:
        for round_number in range(ROUNDS):
            doomed = start_worker(env, log)
            workers.append(doomed)
            response = httpx.post(
                f"{server.url}/graphql/", headers={"Authorization": f"Bearer {token}"},
                data={"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                      "map": json.dumps({"0": ["variables.file"]})},
                files={"0": (f"round-{round_number}.csv", content)}, timeout=60,
            )
            assert response.status_code == 200, response.text
            file = File.objects.get(name=f"round-{round_number}.csv")
            started = File.objects.filter(pk=file.pk, status=FileStatus.PROCESSING,
                                          progress__gt=0)
            wait_until(started.exists, 60, "the first worker never started the file")
            assert len(process_group(doomed.pid)) >= 2, "no pool child to kill"
            os.killpg(doomed.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            doomed.wait()
            wait_until(lambda doomed=doomed: not process_group(doomed.pid), 10,
                       "the pool child outlived SIGKILL")
            rescuer = start_worker(env, log)
            workers.append(rescuer)
            done = File.objects.filter(pk=file.pk, status=FileStatus.DONE)
            wait_until(done.exists, DONE_WITHIN_SECONDS - (time.monotonic() - killed_at),
                       f"round {round_number}: not DONE within a minute of the kill")
            stop(rescuer)
            file.refresh_from_db()
            assert file.attempts == 2  # started by the killed worker, then by the rescuer
            assert file.result["row_count"] == ROWS
            wait_until(lambda file=file: watcher.saw_done(file.pk), 30, "no DONE event")
            finished.append(file)
    finally:
        for process in [*workers, beat]:
            stop(process)
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
