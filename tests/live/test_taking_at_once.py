"""A process's queue read in one round trip (schema/live/layer.py): what waits is taken at
once and handed out in order; a take whose reply never came is taken again, in order; and
a queue other processes may read is still read one message at a time."""

import asyncio
import uuid

from schema.live import layer as live_layer
from tests.support.layers import counting, make_layer

BURST = 50


def queue_of(layer, channel) -> str:
    return layer.prefix + layer.non_local_name(channel)


async def send_burst(layer, channel, count=BURST) -> list[dict]:
    group = f"burst.{uuid.uuid4().hex[:8]}"
    await layer.group_add(group, channel)
    messages = [{"type": "file.update", "n": n} for n in range(count)]
    for message in messages:
        await layer.group_send_many([group], message)
    return messages


async def test_a_burst_is_taken_in_one_round_trip_and_handed_out_in_order():
    layer = make_layer()
    hub = await layer.new_channel()
    messages = await send_burst(layer, hub)
    first = await layer.receive(hub)  # the take loads its script, if it was not

    with counting(layer.connection(0)) as sent:
        rest = [await layer.receive(hub) for _ in messages[1:]]

    assert [first, *rest] == messages
    assert sent == [], "a message waiting in the queue was fetched one at a time"
    await layer.flush()


async def test_a_take_whose_reply_never_came_is_taken_again_in_order():
    layer = make_layer()
    hub = await layer.new_channel()
    messages = await send_burst(layer, hub, count=5)
    queue = queue_of(layer, hub)
    # What a receive cancelled while awaiting the take's reply leaves: the first three moved
    # to the backup, none handed out, the take unconfirmed.
    connection = layer.connection(0)
    keys = (queue, layer._backup_channel_name(queue))
    await live_layer.run_script(
        connection, live_layer.TAKE_MANY, live_layer.TAKE_MANY_SHA, keys, (0, 3, 60)
    )
    layer.unconfirmed[queue] = True
    assert await connection.zcard(queue) == 2

    async with asyncio.timeout(10):  # a message lost would be waited for
        assert [await layer.receive(hub) for _ in messages] == messages
    # The last take (all five, put back first) stays backed up until the next take, or until
    # its messages would have expired.
    assert await connection.zcard(keys[1]) == len(messages)
    assert 0 < await connection.ttl(keys[1]) <= layer.expiry
    await layer.flush()


async def test_a_shared_queue_is_read_one_message_at_a_time():
    layer = make_layer()
    plain = f"plain.{uuid.uuid4().hex}"
    messages = [{"type": "file.update", "n": n} for n in range(3)]
    for message in messages:
        await layer.send(plain, message)

    assert [await layer.receive(plain) for _ in messages] == messages
    await layer.wait_received()  # channels-redis's cleaners, one per message
    connection = layer.connection(0)
    assert await connection.zcard(layer.prefix + plain) == 0
    assert await connection.zcard(layer._backup_channel_name(layer.prefix + plain)) == 0
    await layer.flush()


def test_the_layer_overrides_the_channels_redis_it_was_written_for():
    """schema/live/layer.py replaces two private methods of channels-redis 4.3.0 and mirrors
    its group send in a script: an upgrade must be read against them first, so it fails
    here until the pin below moves with it."""
    import inspect
    from importlib.metadata import version

    from channels_redis.core import RedisChannelLayer

    assert version("channels-redis") == "4.3.0"
    for name, parameters in (
        ("_brpop_with_clean", ["self", "index", "channel", "timeout"]),
        ("_clean_receive_backup", ["self", "index", "channel"]),
    ):
        assert list(inspect.signature(getattr(RedisChannelLayer, name)).parameters) == parameters
