"""Helpers for the scale tests: a second Redis server, a RabbitMQ virtual host of the test's
own, Celery workers in process groups of their own, and live subscribers that know which
Redis server holds their group (the channel layer shards groups by name)."""

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import redis
from celery import Celery
from channels_redis.utils import _consistent_hash
from django.conf import settings

from schema.live import channel
from tests.support.operations import WATCH_ALL
from tests.support.processes import READY_TIMEOUT_SECONDS, free_port, start_celery
from tests.support.wsclient import Subscription, Watcher
from tools.processes import CeleryProcess, Process, redis_command

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"
RABBITMQCTL_TIMEOUT_SECONDS = 60


@contextlib.contextmanager
def redis_server(log: Path):
    """A Redis server process of its own on a free port (no persistence); yields its URL."""
    port = free_port()
    process = Process(redis_command(host="127.0.0.1", port=port), log)
    client = redis.Redis(port=port)
    try:
        process.wait_until(lambda: answers(client), "redis-server answers a ping")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.stop()


def answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def shard_of(group: str, hosts: list[str]) -> str:
    """The Redis server channels-redis keeps `group` on, among `hosts`."""
    return hosts[_consistent_hash(group, len(hosts))]


def group_members(user, hosts: list[str]) -> set[bytes]:
    group = channel.owner_group(user.pk)
    client = redis.Redis.from_url(shard_of(group, hosts))
    try:
        return set(
            client.zrange(
                f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:group:{group}", 0, -1
            )
        )
    finally:
        client.close()


class ShardedWatcher(Watcher):
    """A live subscription to all of a user's files that returns once the server joined the
    user's group on whichever server the group lives on."""

    def __init__(self, server, token, user, hosts: list[str]):
        self.hosts = hosts
        super().__init__(server, token, user)

    async def open(self, server, token, user):
        before = await asyncio.to_thread(group_members, user, self.hosts)
        subscription = await Subscription.open(server.ws_url, token=token)
        await subscription.subscribe(WATCH_ALL)
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            while not await asyncio.to_thread(group_members, user, self.hosts) - before:
                await asyncio.sleep(0.02)  # polling Redis for the join, bounded above
        return subscription


def rabbitmq_reachable() -> bool:
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL + "//", connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # any failure means "not here"
        return False


def rabbitmqctl(*arguments: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", *arguments],
        check=True,
        capture_output=True,
        timeout=RABBITMQCTL_TIMEOUT_SECONDS,
    )


@contextlib.contextmanager
def rabbitmq_vhost():
    """A RabbitMQ virtual host for this test alone (queues, exchanges, messages), deleted
    afterwards, so parallel runs on one broker never take each other's tasks; yields its
    broker URL."""
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is missing: can't make a virtual host for the test")
    vhost = f"filesvc-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{RABBITMQ_URL}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def start_worker(env: dict, log: Path, name: str, *options: str) -> CeleryProcess:
    """A Celery worker named `name`, in a process group of its own (see start_celery)."""
    return start_celery(
        env, log, "worker", "--without-gossip", "--without-mingle", *options, hostname=f"{name}@%h"
    )


def wait_for_workers(broker: str, names: list[str]) -> None:
    """Until every named worker answers a ping on `broker` (a Celery app of its own: the
    project's is configured for the session's broker)."""
    app = Celery(broker=broker, set_as_current=False)  # shared_tasks keep the project app
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        while True:
            answered = {name for reply in app.control.ping(timeout=0.5) or [] for name in reply}
            if all(any(a.startswith(f"{name}@") for a in answered) for name in names):
                return
            assert time.monotonic() < deadline, f"workers {names} never answered: {answered}"
    finally:
        app.close()


def succeeded(log: Path) -> int:
    """Processing tasks a worker's log says it finished."""
    return sum(
        "files_app.process_file[" in line and "succeeded" in line
        for line in log.read_text().splitlines()
    )


def csv(rows: int) -> bytes:
    return ("id,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(rows))).encode()
