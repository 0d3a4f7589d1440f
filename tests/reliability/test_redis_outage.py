"""Redis down and back, on real processes with their own Redis: reads keep working, an upload
during the outage is stored, and the recovery sweep gets it processed once Redis returns."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from files_app.models import File, FileStatus
from tests.support.processes import (
    BASE_DIR,
    READY_TIMEOUT_SECONDS,
    Server,
    free_port,
    start_celery,
    subprocess_env,
    wait_until,
)
from tests.support.wsclient import Subscription
from tools.embedded_redis import redis_url_for, start_embedded_redis, stop_embedded_redis

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id status } }"
FILES = {"query": "{ files { totalCount edges { node { id status url } } } }"}


def upload(server, token, name, content):
    return httpx.post(
        f"{server.url}/graphql/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (name, content)},
    )


SUBSCRIBE = "subscription($ids: [ID!]) { fileUpdates(ids: $ids) { id status } }"


async def open_watcher(server, token, file_id):
    watcher = await Subscription.open(server.ws_url, token=token)
    await watcher.subscribe(SUBSCRIBE, {"ids": [file_id]})
    await watcher.next_file()  # the current state: the subscription is live
    return watcher


RESUBSCRIBE_ATTEMPTS = 5


async def current_state(server, token, file_id) -> dict:
    """Subscribe as a client that reconnects does: a first attempt right after Redis is back
    may get SERVICE_UNAVAILABLE (a pooled connection was dead), the next one the state."""
    for _ in range(RESUBSCRIBE_ATTEMPTS):
        watcher = await Subscription.open(server.ws_url, token=token)
        await watcher.subscribe(SUBSCRIBE, {"ids": [file_id]})
        message = await watcher.receive()
        await watcher.close()
        if message["type"] == "next" and not message["payload"].get("errors"):
            return message["payload"]["data"]["fileUpdates"]
        codes = [e["extensions"]["code"] for e in message["payload"]["errors"]]
        assert codes == ["SERVICE_UNAVAILABLE"], message
    raise AssertionError("never got the current state back")


@pytest.fixture
def own_redis(tmp_path):
    port = free_port()
    server = start_embedded_redis(port=port, data_dir=tmp_path / "redis")
    yield port, server
    stop_embedded_redis(server)


def test_redis_outage(django_db_setup, process_logs, own_redis, user, token, tmp_path):
    port, redis_server = own_redis
    env = {"REDIS_URL": redis_url_for(port), "CHANNEL_LAYER_PREFIX": "outage"}
    server = Server("uvicorn", process_logs, env=env)
    worker_log = process_logs / "outage-worker.log"
    worker = start_celery(
        env,
        worker_log,
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
    )
    try:
        before = upload(server, token, "before.txt", b"uploaded while Redis was up")
        file_before = before.json()["data"]["uploadFile"]["id"]

        loop = asyncio.new_event_loop()  # one loop for the watcher's whole life
        watcher = loop.run_until_complete(open_watcher(server, token, file_before))
        stop_embedded_redis(redis_server)
        # The subscriber is told: its connection closes (a client reconnects on that).
        assert loop.run_until_complete(watcher.closed_within(30))
        loop.close()
        reads = httpx.post(
            f"{server.url}/graphql/",
            json=FILES,
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reads.status_code == 200 and "errors" not in reads.json(), reads.text
        url = reads.json()["data"]["files"]["edges"][0]["node"]["url"]
        download = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert download.status_code == 200

        during = upload(server, token, "during.txt", b"uploaded while Redis was down")
        assert during.status_code == 200, during.text
        file_during = during.json()["data"]["uploadFile"]["id"]
        stored = File.objects.get(name="during.txt")
        assert stored.status == FileStatus.PENDING and Path(stored.stored_file.path).exists()

        restarted = start_embedded_redis(port=port, data_dir=tmp_path / "redis-again")
        try:
            sweep = subprocess.run(
                [sys.executable, "manage.py", "recover_files"],
                cwd=BASE_DIR,
                text=True,
                env={**subprocess_env(), **env, "FILE_RECOVERY_AFTER": "0"},
                capture_output=True,
                timeout=READY_TIMEOUT_SECONDS,
            )
            assert "re-queued" in sweep.stdout, sweep.stdout + sweep.stderr
            processed = File.objects.filter(pk=stored.pk, status=FileStatus.DONE)
            wait_until(processed.exists, 60, "the upload made during the outage was not processed")
            # Reconnected, a subscriber gets the current state first.
            current = asyncio.run(current_state(server, token, file_during))
            assert current["status"] == "DONE"
        finally:
            stop_embedded_redis(restarted)
        assert file_before != file_during
    finally:
        worker.stop()
        server.stop()
