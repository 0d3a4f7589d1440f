"""A user's websocket count in Redis (schema/live/channel.py): a disconnect storm uncounts its
connections in pipelines over one pooled Redis connection, not one new connection each."""

import asyncio
import uuid

from channels.layers import get_channel_layer

from schema.live import connections

STORM = 200


def pool_size(redis) -> int:
    """Connections the pool has opened (redis-py keeps them as available or in use)."""
    pool = redis.connection_pool
    return len(pool._available_connections) + len(pool._in_use_connections)


async def test_a_disconnect_storm_reuses_one_pooled_connection():
    layer = get_channel_layer()
    user_id = uuid.uuid4().int % 10**9
    counted = [
        connections.UserConnections(layer, user_id, uuid.uuid4().hex, ttl=60) for _ in range(STORM)
    ]
    for one in counted:  # one at a time: the pool needs a single connection for these
        assert await one.add(STORM)
    redis = counted[0].redis
    opened = pool_size(redis)

    for one in counted:  # every connection of the process closes in the same instant
        one.remove()
    async with asyncio.timeout(10):
        while await redis.zcard(counted[0].key):
            await asyncio.sleep(0.01)  # polling the outcome, bounded by the timeout

    assert pool_size(redis) <= opened + 1, "each removal opened a Redis connection"
