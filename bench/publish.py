"""Publishing one event (`make bench ONLY=publish`): schema/live/channel.py's `publish`, one
Redis round trip for both groups from the calling thread, against channels-redis's
`group_send` per group (the two gathered) on the publisher loop, as `publish` did before; in
the same process, on the same Redis, taking turns. Then the other end: the live hub reading
events that arrived together, against channels-redis's receive.

A web process's hub is in both groups (an owner subscribing, a staff member watching all),
as in production; the queue is emptied between batches so that the capacity is never in play.
Per event: the wall time of a publish from sync code (the worker's and the upload's path,
through the publisher loop) and the CPU the process spent on it (the calling thread and the
loop's together).
"""

import asyncio
import functools
import statistics
import time

BATCH = 200


async def stock(layer, groups, message):
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


async def empty(layer, queue):
    await layer.connection(0).delete(queue)


def measure(publisher, send, layer, queue, events: int) -> tuple[float, float]:
    """(median wall µs, mean CPU µs) per publish."""
    walls, cpu = [], 0.0
    for start in range(0, events, BATCH):
        for _ in range(min(BATCH, events - start)):
            began, began_cpu = time.perf_counter(), time.process_time()
            send()
            walls.append(time.perf_counter() - began)
            cpu += time.process_time() - began_cpu
        publisher.run(empty(layer, queue))
    return statistics.median(walls) * 1e6, cpu / events * 1e6


def publish_cost(report, events: int, rounds: int = 3) -> None:
    from channels.layers import get_channel_layer

    from schema.live import channel

    layer = get_channel_layer()
    publisher = channel.publisher
    groups = (channel.owner_group(0), channel.ALL_FILES_GROUP)
    hub = publisher.run(layer.new_channel())
    for group in groups:
        publisher.run(layer.group_add(group, hub))
    queue = layer.prefix + layer.non_local_name(hub)
    state = {"id": "0", "owner_id": 0, "status": "DONE", "version": 1, "name": "a.txt"}
    message = {"type": channel.MESSAGE_TYPE, "file": state}
    figures = {"many": [], "stock": []}
    sends = {
        "stock": lambda: publisher.run(stock(layer, groups, message)),
        "many": functools.partial(channel.publish, state),
    }
    for _ in range(rounds):
        for name, send in sends.items():
            figures[name].append(measure(publisher, send, layer, queue, events))
    for group in groups:
        publisher.run(layer.group_discard(group, hub))
    best = {name: min(runs) for name, runs in figures.items()}
    report.add(
        "publish one event to 2 groups: wall p50",
        best["many"][0],
        "µs",
        reference=best["stock"][0],
        note="ref: channels-redis group_send per group, gathered, on the publisher loop",
    )
    report.add(
        "publish one event to 2 groups: CPU",
        min(cpu for _, cpu in figures["many"]),
        "µs",
        reference=min(cpu for _, cpu in figures["stock"]),
        note="ref: the same; the process's CPU per publish",
    )


async def receive_cost(layer_class, config, count: int) -> tuple[float, float]:
    """(wall µs, CPU µs) per message when the process's channel reads `count` waiting ones."""
    layer = layer_class(**config)
    hub = await layer.new_channel()
    message = {"type": "file.update", "file": {"id": "0", "version": 1}}
    for _ in range(count):
        await layer.send(hub, message)
    began, began_cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await layer.receive(hub)
    figures = (time.perf_counter() - began, time.process_time() - began_cpu)
    await layer.flush()
    return figures[0] / count * 1e6, figures[1] / count * 1e6


def hub_receive_cost(report, count: int, rounds: int = 3) -> None:
    """The live hub reading events that arrived together: schema/live/layer.py takes what
    waits at once; channels-redis's own layer, the reference, one message at a time."""
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    from schema.live.layer import ChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    count = min(count, config["capacity"] - 1)  # sent one by one: past it, ChannelFull
    figures = {ChannelLayer: [], RedisChannelLayer: []}
    for _ in range(rounds):
        for layer_class, runs in figures.items():
            runs.append(asyncio.run(receive_cost(layer_class, config, count)))
    for index, what in enumerate(("wall", "CPU")):
        report.add(
            f"hub receives {count} waiting events: {what} per event",
            min(run[index] for run in figures[ChannelLayer]),
            "µs",
            reference=min(run[index] for run in figures[RedisChannelLayer]),
            note="ref: channels-redis's receive, one message at a time",
        )
