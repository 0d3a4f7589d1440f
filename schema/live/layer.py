"""The channel layer: channels-redis's, with one message to several groups in one round trip.

Every change of a file goes to two groups (its owner's and the all-files group). channels-redis
sends to one group in about four round trips (drop expired members, read the members, drop
expired messages, a script that adds the message to each member's queue), so an event cost
eight, two by two: a sixth to a third of a worker's time on small files. `group_send_many`
does the same work for all the groups in one registered Lua script (EVALSHA), with
channels-redis's rules:

- members older than the group expiry are dropped, as channels-redis drops them;
- each member's queue (`prefix` + the channel name up to its `!`) has its expired messages
  dropped, and gets the message only while it holds fewer than `capacity`; a full one is
  skipped and counted, as channels-redis does (the message is lost for it, not for others);
- the message is channels-redis's own serialisation (random prefix included, so two equal
  messages stay two members of a queue), with `__asgi_channel__` listing the channels of the
  queue it goes to: the receiving side cannot tell it from a stock group send.

Sync code (a worker, the upload's announcement thread) sends the same script on a blocking
client of its own (`group_send_many_blocking`) rather than through an event loop in another
thread: the hand-over and the wake-ups cost as much CPU as the send itself (bench/publish.py).

Receiving takes what waits in one round trip too: a process's queue (its channels `prefix!…`,
the live hub's) is emptied up to TAKE_AT_ONCE messages by one script, which moves them to
channels-redis's backup queue in the same step, and handed out one by one from memory, in
order; only an empty queue is waited on (BZPOPMIN). channels-redis popped, backed up and
cleaned each message in four commands, three in a row. The backup is dropped by the next
script once the reply came (the messages are in memory then, which a cancelled receive does
not lose), or put back in the queue if the reply never came. These are channels-redis
4.3.0's `_brpop_with_clean` and `_clean_receive_backup`, overridden (the version is pinned).

A channel in several of the groups gets the message once (stock sends would queue one copy
per group, which a receiver has to drop). The script reads keys it is not given (the members'
queues), as channels-redis's own scripts do on one server: a single Redis, not a cluster.

Anything the script cannot mirror goes to the stock `group_send`, group by group: more than
one host (the groups and the queues may live on different servers when sharded), per-channel
capacities, encryption, a serialiser other than msgpack.
"""

import asyncio
import collections
import hashlib
import logging
import threading
import time

import msgpack
import redis
from channels_redis.core import RedisChannelLayer
from channels_redis.serializers import MsgPackSerializer
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

logger = logging.getLogger(__name__)

CHANNELS_KEY = "__asgi_channel__"
# The serialised message ends with this key and an empty list; the script puts the queue's
# channels in the list's place.
CHANNELS_TAIL = msgpack.packb(CHANNELS_KEY) + msgpack.packb([])

# KEYS: the groups' keys. ARGV: the oldest membership kept, the oldest message kept, the new
# message's score, the queues' expiry, the channel-layer prefix, the capacity, the serialised
# message without its empty channel list. Returns the queues sent to and those over capacity.
SEND_MANY = """
local queues, order, seen = {}, {}, {}
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[1])
    for _, channel in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
        if not seen[channel] then
            seen[channel] = true
            local bang = string.find(channel, '!', 1, true)
            local key = ARGV[5] .. (bang and string.sub(channel, 1, bang) or channel)
            if queues[key] == nil then
                queues[key] = {}
                order[#order + 1] = key
            end
            table.insert(queues[key], channel)
        end
    end
end
local capacity = tonumber(ARGV[6])
local over = 0
for _, key in ipairs(order) do
    redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[2])
    if redis.call('ZCARD', key) < capacity then
        redis.call('ZADD', key, ARGV[3], ARGV[7] .. cmsgpack.pack(queues[key]))
        redis.call('EXPIRE', key, ARGV[4])
    else
        over = over + 1
    end
end
return {#order, over}
"""
SEND_MANY_SHA = hashlib.sha1(SEND_MANY.encode()).hexdigest()

TAKE_AT_ONCE = 100
# KEYS: a queue and its backup. ARGV: whether the backup is put back first (the reply of the
# last take never came), how many to take, the message expiry (a backup outlives its messages
# no longer: a process that died leaves none for good). Returns the members taken, oldest
# first.
TAKE_MANY = """
if ARGV[1] == '1' then
    local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
    end
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
local members = {}
for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
    members[#members + 1] = popped[i]
end
if #members > 0 then
    redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return members
"""
TAKE_MANY_SHA = hashlib.sha1(TAKE_MANY.encode()).hexdigest()


class ChannelLayer(RedisChannelLayer):
    """channels-redis's layer with `group_send_many` and a process's queue read in one round
    trip (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.blocking: redis.Redis | None = None
        self.blocking_lock = threading.Lock()
        # Per queue: messages taken and not yet handed out, and whether a take's reply is
        # awaited (then the backup holds what it took).
        self.taken: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.unconfirmed: dict[str, bool] = {}

    async def _brpop_with_clean(self, index, channel, timeout):
        """The next message of the queue `channel`: taken with those behind it, or waited for."""
        if not channel.endswith("!"):  # a queue other processes may read too: one at a time
            return await super()._brpop_with_clean(index, channel, timeout)
        taken = self.taken[channel]
        if not taken:
            restore = self.unconfirmed.get(channel, True)  # the first take: anything left
            self.unconfirmed[channel] = True
            keys = (channel, self._backup_channel_name(channel))
            args = (int(restore), TAKE_AT_ONCE, int(self.expiry))
            connection = self.connection(index)
            taken.extend(await run_script(connection, TAKE_MANY, TAKE_MANY_SHA, keys, args))
            self.unconfirmed[channel] = False  # nothing awaited since the reply: kept in memory
        if taken:
            return taken.popleft()
        # Nothing waits: block for the next one, as channels-redis does (not backed up: its
        # reply is handed out without an await in between).
        result = await self.connection(index).bzpopmin(channel, timeout=timeout)
        return None if result is None else result[1]

    def has_taken(self, channel) -> bool:
        """Whether a message for the process channel `channel` is in hand: taken with the
        last (or in channels-redis's receive buffer), so receiving it asks Redis nothing."""
        buffered = self.receive_buffer.get(channel)
        if buffered is not None and not buffered.empty():
            return True
        return bool(self.taken.get(self.prefix + self.non_local_name(channel)))

    async def _clean_receive_backup(self, index, channel):
        """Nothing to clean per message of a process's queue: the next take drops the backup."""
        if not channel.endswith("!"):
            await super()._clean_receive_backup(index, channel)

    def sends_in_one(self) -> bool:
        serializer = self._serializer
        return (
            self.ring_size == 1
            and not self.channel_capacity
            and isinstance(serializer, MsgPackSerializer)
            and serializer.crypter is None
        )

    def sends_blocking(self) -> bool:
        """Whether `group_send_many_blocking` may be used: one host, given by its address."""
        return self.sends_in_one() and "address" in self.hosts[0]

    async def group_send_many(self, groups, message) -> None:
        """Send `message` to every channel in any of `groups`, once each."""
        groups = list(dict.fromkeys(groups))
        if not self.sends_in_one():
            await asyncio.gather(*(self.group_send(group, message) for group in groups))
            return
        keys, args = self.script_arguments(groups, message)
        sent = await run_script(self.connection(0), SEND_MANY, SEND_MANY_SHA, keys, args)
        log_over_capacity(groups, *sent)

    def group_send_many_blocking(self, groups, message, *, timeout: float) -> None:
        """`group_send_many` from sync code (a worker, the upload's announcement thread), on
        a blocking Redis client of the process: no event loop to hand the send to and wait
        for, which cost three times the send itself. Only where `sends_blocking`."""
        groups = list(dict.fromkeys(groups))
        keys, args = self.script_arguments(groups, message)
        connection = self.blocking_client(timeout)
        try:
            sent = connection.evalsha(SEND_MANY_SHA, len(keys), *keys, *args)
        except NoScriptError:
            connection.script_load(SEND_MANY)
            sent = connection.evalsha(SEND_MANY_SHA, len(keys), *keys, *args)
        log_over_capacity(groups, *sent)

    def script_arguments(self, groups, message) -> tuple[list, tuple]:
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
        assert CHANNELS_KEY not in message
        serialized = self.serialize({**message, CHANNELS_KEY: []})
        assert serialized.endswith(CHANNELS_TAIL)
        now = time.time()
        args = (
            int(now) - self.group_expiry,
            int(now) - int(self.expiry),
            now,
            int(self.expiry),
            self.prefix,
            self.capacity,
            serialized[:-1],  # without the empty list, whose msgpack is one byte
        )
        return [self._group_key(group) for group in groups], args

    def blocking_client(self, timeout: float) -> redis.Redis:
        """One per layer, shared by the process's threads; redis-py's pool opens new
        connections in a forked child. A send is bounded: its connect and its reply each by
        `timeout` (the layer's own reads wait forever: they block on an idle channel), and
        only a dropped connection is tried again, once (a pooled one Redis closed), where
        redis-py would try it ten times over with growing pauses."""
        with self.blocking_lock:
            if self.blocking is None:
                options = dict(self.hosts[0])
                address = options.pop("address")
                connect = options.get("socket_connect_timeout") or timeout
                options.update(
                    socket_timeout=timeout,
                    socket_connect_timeout=min(connect, timeout),
                    retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                )
                self.blocking = redis.Redis.from_url(address, **options)
            return self.blocking


async def run_script(connection, script: str, sha: str, keys, args):
    try:
        return await connection.evalsha(sha, len(keys), *keys, *args)
    except NoScriptError:  # once per Redis server (and after a restart or SCRIPT FLUSH)
        await connection.script_load(script)
        return await connection.evalsha(sha, len(keys), *keys, *args)


def log_over_capacity(groups, queues: int, over: int) -> None:
    if over:
        logger.info("%s of %s channels over capacity in groups %s", over, queues, groups)
