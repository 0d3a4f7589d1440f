"""The web server restarted under its websocket clients: they are closed, reconnect and get
the current state, including what changed while the server was away. A stopped server
leaves no group membership behind; a killed one's are dropped after the group expiry, which
live subscriptions outlast because they refresh their memberships."""

import asyncio
import time

import pytest
import redis.asyncio
from asgiref.sync import sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from files_app import events, services
from files_app.models import File, FileStatus
from schema.graphql.ids import decode_file_id
from schema.live import channel
from tests.support.operations import SUBSCRIBE, upload
from tests.support.processes import Server
from tests.support.wsclient import Subscription, group_size

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 20
CLOSE_TIMEOUT = 15
# Short enough for a test to outlive it; the servers refresh three times per expiry.
SHORT_GROUP_EXPIRY = 2


async def wait_for(condition, timeout=30):
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)  # polling the outcome, bounded by the timeout
    return True


async def file_is(file_id, status, newer_than=0) -> bool:
    return await File.objects.filter(pk=file_id, status=status, version__gt=newer_than).aexists()


async def watch(server, token, file_id) -> tuple[Subscription, dict]:
    """Subscribe to one file; the first message is its current state."""
    watcher = await Subscription.open(server.ws_url, token=token)
    await watcher.subscribe(SUBSCRIBE, {"ids": [file_id]})
    return watcher, await watcher.next_file()


async def test_clients_get_the_current_state_after_a_web_restart(
    process_logs, celery_worker, user, token
):
    server = await asyncio.to_thread(Server, "uvicorn", process_logs)  # ours to restart
    try:
        file_id = decode_file_id((await upload(server, token, "kept.txt", b"survives"))["id"])
        await wait_for(lambda: file_is(file_id, FileStatus.DONE))
        before = await File.objects.aget(pk=file_id)
        watchers = [await watch(server, token, str(file_id)) for _ in range(CLIENTS)]
        assert {state["version"] for _, state in watchers} == {before.version}
        assert await group_size(user) == 1  # the server's live hub, for all its clients

        await asyncio.to_thread(server.stop)
        closings = (watcher.closed_within(CLOSE_TIMEOUT) for watcher, _ in watchers)
        assert all(await asyncio.gather(*closings))
        assert await group_size(user) == 0  # a stopped server leaves its groups

        # While the server is away, the file is processed again.
        await sync_to_async(services.file_reprocess)(user=user, file_id=file_id)
        await wait_for(lambda: file_is(file_id, FileStatus.DONE, newer_than=before.version))
        after = await File.objects.aget(pk=file_id)

        await asyncio.to_thread(server.start)
        reconnected = [await watch(server, token, str(file_id)) for _ in range(CLIENTS)]
        assert {(state["status"], state["version"]) for _, state in reconnected} == {
            ("DONE", after.version)
        }
        for watcher, _ in reconnected:
            await watcher.close()
        await wait_for(lambda: group_members_are(user, 0), timeout=10)
    finally:
        await asyncio.to_thread(server.stop)


async def group_members_are(user, count) -> bool:
    return await group_size(user) == count


async def membership_score(user, watcher_count=1) -> float:
    client = redis.asyncio.from_url(settings.REDIS_URL)
    try:
        key = short_expiry_layer()._group_key(channel.owner_group(user.pk))
        members = await client.zrange(key, 0, -1, withscores=True)
        assert len(members) == watcher_count, members
        return members[0][1]
    finally:
        await client.aclose()


def short_expiry_layer() -> RedisChannelLayer:
    """A publisher configured like the servers under test (group expiry included): the
    sender is who drops expired members."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return RedisChannelLayer(**{**config, "group_expiry": SHORT_GROUP_EXPIRY})


async def publish(layer, file: File) -> None:
    await layer.group_send(
        channel.owner_group(file.owner_id),
        {"type": channel.MESSAGE_TYPE, "file": events.file_state(file)},
    )


async def test_memberships_outlive_the_group_expiry_but_not_a_killed_server(
    process_logs, user, token
):
    server = await asyncio.to_thread(
        Server, "uvicorn", process_logs, {"CHANNEL_LAYER_GROUP_EXPIRY": str(SHORT_GROUP_EXPIRY)}
    )
    layer = short_expiry_layer()
    try:
        file = await File.objects.acreate(owner=user, name="a.txt", size=1, version=1)
        watcher, _ = await watch(server, token, str(file.pk))
        joined_at = await membership_score(user)
        # The server refreshes the membership by itself...
        await wait_for(lambda: score_after(user, joined_at), timeout=10)
        # ...so an event sent after the group expiry has passed still reaches the subscriber.
        while time.time() < joined_at + SHORT_GROUP_EXPIRY + 0.5:
            await asyncio.sleep(0.05)  # the passing of time is what is under test
        file.version = 2
        await publish(layer, file)
        assert (await watcher.next_file())["version"] == 2

        # A killed server cannot leave its groups: its membership lingers...
        await asyncio.to_thread(server.process.kill)
        await asyncio.to_thread(server.process.wait)
        assert await watcher.closed_within(CLOSE_TIMEOUT)
        stale_since = await membership_score(user)
        # ...until the group expiry has passed, and the next publish drops it.
        while time.time() < stale_since + SHORT_GROUP_EXPIRY + 0.5:
            await asyncio.sleep(0.05)  # the passing of time is what is under test
        file.version = 3
        await publish(layer, file)
        assert await group_size(user) == 0
    finally:
        await layer.close_pools()
        await asyncio.to_thread(server.stop)


async def score_after(user, joined_at) -> bool:
    return await membership_score(user) > joined_at
