"""A user's open websockets, counted across web processes (WEBSOCKET_MAX_CONNECTIONS_PER_USER).

The count lives in Redis, beside the channel layer (on the server its key hashes to), so the
cap holds however many web processes there are; each connection's entry expires unless the
process's revalidation refreshes it (schema/live/revalidation.py).
"""

import asyncio
import logging
import math
import time

from .loops import loop_local

logger = logging.getLogger(__name__)


class UserConnections:
    """A user's open websockets, counted in Redis so the cap holds across web processes: a
    sorted set per user of connection ids, each scored by when it stops counting unless its
    connection refreshes it. A killed web process can't say goodbye; its connections stop
    counting `ttl` seconds after their last refresh instead of holding the user's slots."""

    def __init__(self, layer, user_id: int, connection_id: str, ttl: float):
        self.key = f"{layer.prefix}:websockets:{user_id}"
        self.redis = layer.connection(layer.consistent_hash(self.key))
        self.connection_id, self.ttl = connection_id, ttl

    async def add(self, limit: int) -> bool:
        """Count this connection, unless that makes more than `limit`: then False, and it
        is not counted (two racing for the last slot may both be refused, never both let
        in)."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self.key, "-inf", now)
            pipe.zadd(self.key, {self.connection_id: now + self.ttl})
            pipe.zcard(self.key)
            pipe.expire(self.key, math.ceil(self.ttl))
            count = (await pipe.execute())[2]
        if count > limit:
            await self.redis.zrem(self.key, self.connection_id)
        return count <= limit

    def refresh_in(self, pipe, same_user) -> None:
        """Queue in `pipe` the refresh of these connections, all of this one's user."""
        until = time.time() + self.ttl
        pipe.zadd(self.key, {one.connection_id: until for one in same_user})
        pipe.expire(self.key, math.ceil(self.ttl))

    def remove(self) -> None:
        """Stop counting this connection, soon (without waiting): see `Removals`."""
        loop_local(Removals).add(self)


def by_server(connections) -> list[tuple[object, list[UserConnections]]]:
    """The connections grouped by the Redis server their key lives on."""
    groups: dict[int, tuple[object, list[UserConnections]]] = {}
    for counted in connections:
        groups.setdefault(id(counted.redis), (counted.redis, []))[1].append(counted)
    return list(groups.values())


async def refresh_all(connections) -> None:
    """Keep these connections counted: one pipeline per Redis server, one ZADD per user, not
    a round trip per connection (each revalidation round refreshes every connection of the
    process)."""
    for redis, counted in by_server(connections):
        by_key: dict[str, list[UserConnections]] = {}
        for one in counted:
            by_key.setdefault(one.key, []).append(one)
        async with redis.pipeline(transaction=False) as pipe:
            for same_user in by_key.values():
                same_user[0].refresh_in(pipe, same_user)
            await pipe.execute()


class Removals:
    """The connections that closed, uncounted in one pipeline per round, one round at a time:
    one pooled connection per Redis server. A disconnect storm (a web process's clients all
    leaving at once) uncounted with a ZREM each, at the same moment, would take a connection
    each from the pool: hundreds of new Redis connections (and redis-py reading its package
    metadata for each)."""

    def __init__(self):
        self.waiting: list[UserConnections] = []
        self.task: asyncio.Task | None = None

    def add(self, counted: UserConnections) -> None:
        self.waiting.append(counted)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.flush())

    async def flush(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            for redis, counted in by_server(batch):
                try:
                    async with redis.pipeline(transaction=False) as pipe:
                        for one in counted:
                            pipe.zrem(one.key, one.connection_id)
                        await pipe.execute()
                except Exception:  # Redis away: the entries expire on their own
                    logger.warning("Could not uncount closed websockets", exc_info=True)
