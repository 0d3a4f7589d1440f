"""The live channel: file updates carried over the Channels layer (Redis) to websockets.

Group names and the message type are the edge's: the websocket consumer joins the groups,
the `fileUpdates` subscription reads the messages, and `publish` (the domain's
FILE_EVENTS_PUBLISHER) sends them, from the web process and from workers alike.
"""

import asyncio
import logging
import math
import os
import threading
import time

from channels.layers import get_channel_layer

from files_app import selectors

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "file.update"
# Staff see every file, so their subscriptions listen to a group that gets every event.
ALL_FILES_GROUP = "files.all"
PUBLISH_TIMEOUT_SECONDS = 5
# Memberships are refreshed this many times per group expiry, so one missed refresh (Redis
# briefly away) does not yet cost a subscriber its events. The same margin for the count of
# a user's connections, refreshed at each revalidation.
REFRESHES_PER_GROUP_EXPIRY = 3


def owner_group(user_id: int) -> str:
    return f"files.owner.{user_id}"


def groups_for_viewer(user) -> list[str]:
    """Where a viewer's events come from (blocking: the rights may need the database). One
    who sees everyone's files joins their own group too, so losing that right only means
    leaving the all-files group (the copies of their own files' events are dropped by the
    subscription's version check)."""
    own = [owner_group(user.pk)]
    return [ALL_FILES_GROUP, *own] if selectors.sees_all_files(user) else own


def reaches(groups, state: dict) -> bool:
    """Whether an event about the file in `state` is meant for a viewer of `groups`."""
    return ALL_FILES_GROUP in groups or owner_group(state["owner_id"]) in groups


class PublisherLoop:
    """One event loop per process, in a daemon thread, for publishing from sync code.

    `async_to_sync` from a thread with no outer loop (a Celery worker) makes a new loop per
    call, and with it a new Redis connection: a long-lived loop keeps one pool open. The pid
    check starts a fresh loop in a forked child (threads don't survive fork).
    """

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = None
        self.lock = threading.Lock()

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(
                    target=self.loop.run_forever, daemon=True, name="channel-layer-publisher"
                ).start()
            return self.loop

    def run(self, coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.get())
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


publisher = PublisherLoop()


async def send_to_groups(groups, message) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


def publish(state: dict) -> None:
    """Send a file's public state to its owner's group and to staff (blocking, bounded)."""
    message = {"type": MESSAGE_TYPE, "file": state}
    publisher.run(send_to_groups((owner_group(state["owner_id"]), ALL_FILES_GROUP), message))


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
    """The connections that closed, uncounted in one pipeline per round. A disconnect storm
    (a web process's clients all leaving at once) used to run one ZREM per connection at
    the same time, each taking a connection of its own from the pool, so the pool opened
    hundreds of new Redis connections (and redis-py read its package metadata for each);
    now one round at a time uses one pooled connection per Redis server."""

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


_loop_locals: dict[tuple, object] = {}


def loop_local(factory):
    """`factory()`'s one instance for the running event loop: one per web process, since
    uvicorn runs one loop (tests run several, one after another)."""
    loop = asyncio.get_running_loop()
    for stale in [key for key in _loop_locals if key[0].is_closed()]:
        del _loop_locals[stale]
    key = (loop, factory)
    if key not in _loop_locals:
        _loop_locals[key] = factory()
    return _loop_locals[key]
