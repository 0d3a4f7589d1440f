"""One event to several groups in one Redis round trip (schema/live/layer.py), against real
Redis: every member gets it once, through channels-redis's own receive; expired members and
full queues are treated as channels-redis treats them; and one publish is one command."""

import asyncio
import socket
import threading
import time
import uuid

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from schema.live import channel
from schema.live.layer import ChannelLayer
from tests.support.layers import counting, make_layer

MESSAGE = {"type": "file.update", "file": {"id": "1", "name": None, "ratio": 1.0, "tags": {}}}


def groups() -> tuple[str, str]:
    token = uuid.uuid4().hex[:8]
    return f"owner.{token}", f"all.{token}"


async def queued(layer, member) -> int:
    """Messages waiting in the Redis queue the channel `member` is received from."""
    return await layer.connection(0).zcard(layer.prefix + layer.non_local_name(member))


async def test_each_member_gets_the_message_once_as_a_stock_send_delivers_it():
    layer = make_layer()
    owner, every = groups()
    only_owner, only_all, both = [await layer.new_channel() for _ in range(3)]
    plain = f"plain.{uuid.uuid4().hex}"  # a channel of no process: its own queue
    for group, member in ((owner, only_owner), (every, only_all), (owner, both), (every, both)):
        await layer.group_add(group, member)
    await layer.group_add(every, plain)

    await layer.group_send_many([owner, every], MESSAGE)

    assert await queued(layer, only_owner) == 1, "one message per queue and publish"
    for member in (only_owner, only_all, both, plain):
        assert await layer.receive(member) == MESSAGE  # None, 1.0 and {} survive as they are
    assert await queued(layer, only_owner) == 0, "a channel in both groups got a second copy"
    assert await queued(layer, plain) == 0
    await layer.flush()


async def test_equal_messages_stay_two_and_arrive_in_order():
    layer = make_layer()
    owner, every = groups()
    member = await layer.new_channel()
    await layer.group_add(owner, member)
    versions = [{**MESSAGE, "version": version} for version in (1, 2, 1, 1)]

    for message in versions:
        await layer.group_send_many([owner, every], message)

    assert [await layer.receive(member) for _ in versions] == versions
    await layer.flush()


async def test_an_expired_member_is_dropped_and_gets_nothing():
    layer = make_layer(group_expiry=60)
    owner, every = groups()
    live, expired = await layer.new_channel(), f"gone.{uuid.uuid4().hex}"
    await layer.group_add(owner, live)
    await layer.connection(0).zadd(layer._group_key(every), {expired: time.time() - 120})

    await layer.group_send_many([owner, every], MESSAGE)

    assert await layer.connection(0).zrange(layer._group_key(every), 0, -1) == []
    assert await queued(layer, expired) == 0
    assert await layer.receive(live) == MESSAGE
    await layer.flush()


async def test_a_full_queue_is_skipped_and_expired_messages_make_room():
    layer = make_layer(capacity=2, expiry=60)
    owner, every = groups()
    full, stale, other = (f"{name}.{uuid.uuid4().hex}" for name in ("full", "stale", "other"))
    for member in (full, stale, other):
        await layer.group_add(every, member)
    for _ in range(2):
        await layer.send(full, {"type": "earlier"})
    redis = layer.connection(0)
    old = time.time() - 120  # both past the message expiry: dropped before the capacity check
    await redis.zadd(layer.prefix + stale, {b"old-1": old, b"old-2": old})

    await layer.group_send_many([owner, every], MESSAGE)

    assert await queued(layer, full) == 2, "a message went over the capacity"
    assert [await layer.receive(full) for _ in range(2)] == [{"type": "earlier"}] * 2
    assert await queued(layer, stale) == 1
    assert await layer.receive(stale) == MESSAGE
    assert await layer.receive(other) == MESSAGE
    await layer.flush()


async def test_a_publish_is_one_round_trip():
    layer = make_layer()
    owner, every = groups()
    for group in (owner, every):
        await layer.group_add(group, await layer.new_channel())
    await layer.group_send_many([owner, every], MESSAGE)  # the script is loaded, if it was not
    with counting(layer.connection(0)) as sent:
        for _ in range(3):
            await layer.group_send_many([owner, every], MESSAGE)

    assert sent == ["EVALSHA"] * 3
    await layer.flush()


async def test_a_publish_from_sync_code_is_one_round_trip_from_its_own_thread():
    layer = get_channel_layer()  # the configured one, as a worker's `publish` finds it
    owner_id = uuid.uuid4().int % 10**9
    hub = await layer.new_channel()
    await layer.group_add(channel.owner_group(owner_id), hub)
    states = [{"id": "1", "owner_id": owner_id, "version": version} for version in (1, 2, 3)]
    await asyncio.to_thread(channel.publish, states[0])  # the script is loaded, if it was not
    with counting(layer.blocking_client(channel.PUBLISH_TIMEOUT_SECONDS)) as sent:
        for state in states[1:]:
            await asyncio.to_thread(channel.publish, state)

    assert sent == ["EVALSHA"] * 2
    for state in states:
        assert await layer.receive(hub) == {"type": channel.MESSAGE_TYPE, "file": state}
    await layer.group_discard(channel.owner_group(owner_id), hub)


def test_a_publish_to_a_silent_redis_gives_up_after_its_timeout():
    """Bounded as `publish` promises: a Redis that accepts and never answers costs the
    worker one timeout, not redis-py's ten tries."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        layer = ChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{silent.getsockname()[1]}"}])
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            layer.group_send_many_blocking(groups(), MESSAGE, timeout=0.5)
        assert time.monotonic() - started < 2


def test_a_publish_to_a_redis_that_drops_it_tries_once_more_not_ten_times():
    """A server that closes each connection at once: the publish is tried again once (a
    pooled connection Redis closed is worth one more try), then given up; redis-py alone
    would try ten times over with a growing pause, holding the worker for seconds."""
    accepted = []

    def drop_each(server):
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # the test is over
                return
            accepted.append(connection)
            connection.close()

    with socket.create_server(("127.0.0.1", 0)) as server:
        threading.Thread(target=drop_each, args=(server,), daemon=True).start()
        layer = ChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{server.getsockname()[1]}"}])
        with pytest.raises(redis.ConnectionError):
            layer.group_send_many_blocking(groups(), MESSAGE, timeout=0.5)
    assert len(accepted) == 2


async def test_sharded_layers_send_group_by_group():
    address = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    layer = make_layer(hosts=[address, address])  # two shards, here the same server
    owner, every = groups()
    member = await layer.new_channel()
    await layer.group_add(owner, member)

    assert not layer.sends_in_one() and not layer.sends_blocking()
    await layer.group_send_many([owner, every], MESSAGE)

    assert await layer.receive(member) == MESSAGE
    await layer.flush()
