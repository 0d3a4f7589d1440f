"""Live fan-out: one channel-layer receiver per web process, one execution per class.

A subscriber that joined the channel-layer groups itself, and had Strawberry execute its
selection and serialise the result for every event, would cost about 0.9 ms of CPU per
subscriber per event and a message per subscriber through Redis
(docs/live-connection-cost.md). Instead one `Hub` per process joins the groups its local
subscribers need (reference-counted), receives each event once, and hands it to the
subscribers it reaches, grouped in classes by (query text, operation name, variables, rights,
origin): each class executes the selection once and the `next` payload is serialised once,
within the answer budget (schema/graphql/answers.py); every subscriber of the class gets the
same bytes, in an envelope with its own operation id.

The rights are whether the viewer sees everyone's files: an owner and a staff member never
share a result. Nothing else a field resolves from may depend on the viewer (the fields read
the file and the connection's origin only); a field that does must add what it depends on to
`Subscriber.class_key`. tests/live/test_fanout.py pins each field of the payload type to what it
reads, and checks that two unlike viewers of one class get what each would get alone.

The payload is written to each subscriber's socket at once unless the socket is full (a
client that does not read): then that subscriber's own task finishes the write and its
outbox keeps what follows, merged and bounded (schema/live/subscriber.py), so it holds up no one.

Events that arrived together (taken from Redis in one round trip, schema/live/layer.py) are
written together: the hub corks each socket it writes to and uncorks them all once no event
it has taken waits any more, so each subscriber gets them in one write
(schema/live/protocol.py). Waiting costs nothing extra: those events are in hand, and only
what the hub has taken is waited for, never Redis; COALESCE_SECONDS bounds how long the first
of them waits for the last (100 at most are taken at once).
"""

import asyncio
import collections
import contextlib
import contextvars
import logging

from channels.layers import get_channel_layer
from django.conf import settings
from strawberry.utils.aio import aclosing

from files_app import events

from ..errors import answer_too_large
from ..graphql import answers
from ..graphql.subscriptions import OneEvent
from ..observability import SUBSCRIPTIONS
from . import channel
from .loops import loop_local
from .protocol import Corks
from .subscriber import TRY_AGAIN_LATER, Subscriber

logger = logging.getLogger(__name__)

# The graphql-transport-ws operation whose task is running (None under the older graphql-ws
# protocol, whose subscriptions are executed per subscriber as before): set by
# schema/live/transport.py.
current_operation: contextvars.ContextVar = contextvars.ContextVar(
    "current_operation", default=None
)
# Events the hub remembers having dispatched: the same event arrives once per group the hub
# is in (an owner's and the all-files group).
DISPATCHED_MEMORY = 10_000
RECEIVE_RETRY_SECONDS = 1.0
COALESCE_SECONDS = 1.0


class Hub:
    """The process's one channel-layer receiver and its subscribers, by group."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.members: dict[str, set[Subscriber]] = collections.defaultdict(set)
        self.by_consumer: dict[object, set[Subscriber]] = {}
        self.lock = asyncio.Lock()
        self.joining: dict[str, asyncio.Future] = {}
        self.closing: set[asyncio.Task] = set()
        self.dispatched: collections.OrderedDict = collections.OrderedDict()
        self.tasks: tuple[asyncio.Task, ...] = ()
        self.corks = Corks()  # the sockets written to since the events in hand ran out

    async def start(self) -> None:
        if self.channel is None:
            self.channel = await self.layer.new_channel()  # shares the process's receive loop
            self.tasks = (
                asyncio.create_task(self.receive_forever()),
                asyncio.create_task(self.refresh_forever()),
            )

    async def add(self, subscriber: Subscriber) -> None:
        """Join the subscriber's groups (before it reads any current state); it stays until
        `remove`. A group is joined in Redis for every subscriber, not only the first: that
        renews the membership (Redis may have lost it). Subscribers arriving while a join of
        their group is on its way share it (`join`), so 10,000 subscribing at once cost a
        few round trips, not 10,000 one after another under the lock."""
        async with self.lock:  # not while a group no one needed is being left
            await self.start()
            self.by_consumer.setdefault(subscriber.consumer, set()).add(subscriber)
            for group in subscriber.consumer.viewer_groups:
                self.members[group].add(subscriber)
                subscriber.groups.add(group)
        SUBSCRIPTIONS.inc()
        try:
            await asyncio.gather(*(self.join(group) for group in subscriber.groups))
        except BaseException:
            await self.remove(subscriber)
            raise

    async def remove(self, subscriber: Subscriber) -> None:
        """The subscription ended: stop delivering to it, let go of what waits in its
        outbox, and leave the groups no local subscriber needs any more."""
        if subscriber.removed:
            return
        subscriber.removed = True
        subscriber.end()
        SUBSCRIPTIONS.dec()
        others = self.by_consumer.get(subscriber.consumer, set())
        others.discard(subscriber)
        if not others:
            self.by_consumer.pop(subscriber.consumer, None)
        await self.leave(subscriber, keep=())

    async def join(self, group: str) -> None:
        """Be in `group` in Redis once this returns: a join sent after the caller became a
        member, or one already on its way (it ends after the caller became a member)."""
        joining = self.joining.get(group)
        if joining is None:
            joining = asyncio.ensure_future(self.layer.group_add(group, self.channel))
            self.joining[group] = joining
            joining.add_done_callback(lambda _: self.joining.pop(group, None))
        await asyncio.shield(joining)

    async def leave(self, subscriber: Subscriber, keep) -> None:
        """Stop delivering to `subscriber` through groups not in `keep`; a group no local
        subscriber needs any more is left in Redis."""
        async with self.lock:
            for group in [group for group in subscriber.groups if group not in keep]:
                subscriber.groups.discard(group)
                self.members[group].discard(subscriber)
                if not self.members[group]:
                    del self.members[group]
                    with contextlib.suppress(Exception):  # Redis away: it expires
                        await self.layer.group_discard(group, self.channel)

    async def narrow(self, consumer, allowed) -> None:
        """A viewer lost a right: their subscriptions leave the groups it gave them."""
        for subscriber in list(self.by_consumer.get(consumer, ())):
            if not subscriber.groups <= set(allowed):
                await self.leave(subscriber, keep=allowed)

    async def receive_forever(self) -> None:
        try:
            while True:
                try:
                    message = await self.layer.receive(self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:  # Redis away
                    logger.warning("The live hub could not receive", exc_info=True)
                    self.interrupt()
                    await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                    continue
                if message.get("type") == channel.MESSAGE_TYPE:
                    try:
                        await self.dispatch(message["file"])
                    except Exception:
                        logger.exception("Could not dispatch a live event")
                if not self.coalescing():
                    self.corks.uncork()
        finally:
            self.corks.uncork()

    def coalescing(self) -> bool:
        """Whether to keep the sockets corked for the next event: one the hub has taken
        already waits (not one still in Redis), and the first corked has not waited long."""
        if not self.corks or self.corks.age() >= COALESCE_SECONDS:
            return False
        has_taken = getattr(self.layer, "has_taken", None)  # channels-redis's own: no
        return has_taken is not None and has_taken(self.channel)

    def interrupt(self) -> None:
        """Close every subscriber's connection with 1013 "Try Again Later": events sent
        while the hub cannot receive are lost, and a client that reconnects gets the current
        state again (graphql-ws clients retry 1013; 1011 would be final for them)."""
        for consumer in list(self.by_consumer):
            self.by_consumer.pop(consumer, None)
            task = asyncio.create_task(
                consumer.close(code=TRY_AGAIN_LATER, reason="Live updates interrupted: reconnect")
            )
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

    async def refresh_forever(self) -> None:
        """Join our groups again now and then: channels-redis drops a membership older than
        its group expiry, and a subscription open longer than that would silently stop
        receiving events."""
        interval = settings.CHANNEL_LAYER_GROUP_EXPIRY / channel.REFRESHES_PER_GROUP_EXPIRY
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.lock:
                    for group in list(self.members):
                        await self.layer.group_add(group, self.channel)
            except Exception:  # Redis away: the next round tries again
                logger.warning("Could not refresh the live hub's memberships", exc_info=True)

    def first_time(self, state: dict) -> bool:
        last = self.dispatched.get(state["id"], 0)
        if state["version"] <= last:
            return False
        self.dispatched[state["id"]] = state["version"]
        self.dispatched.move_to_end(state["id"])
        if len(self.dispatched) > DISPATCHED_MEMORY:
            self.dispatched.popitem(last=False)
        return True

    async def dispatch(self, state: dict) -> None:
        """Execute once per class of the subscribers this event reaches, then queue the
        same payload for each of them (queueing never waits for a client)."""
        if not self.first_time(state):
            return
        reached = self.members.get(
            channel.owner_group(state["owner_id"]), set()
        ) | self.members.get(channel.ALL_FILES_GROUP, set())
        classes: dict[object, list[Subscriber]] = collections.defaultdict(list)
        for subscriber in reached:
            if subscriber.wants(state):
                classes[subscriber.class_key()].append(subscriber)
        for key, subscribers in classes.items():
            if key is None:
                for subscriber in subscribers:
                    subscriber.offer(state, state)
                continue
            payload = await execute(subscribers[0].operation, state)
            logger.debug(
                "fileUpdates executed for %d subscribers: file %s version %s",
                len(subscribers),
                state["id"],
                state["version"],
            )
            for subscriber in subscribers:
                self.corks.add(subscriber.outbound.socket)
                subscriber.offer(state, payload)


async def execute(operation, state: dict) -> bytes:
    """The `next` payload of `operation`'s document for one event, serialised once for its
    whole class: the same schema, extensions and error handling as a per-subscriber
    execution, and the same answer budget as a query (schema/graphql/answers.py)."""
    handler = operation.handler
    source = await handler.schema.stream(
        operation.query,
        variable_values=operation.variables,
        context_value=handler.context,
        root_value=OneEvent(events.file_from_state(state)),
        operation_name=operation.operation_name,
    )
    async with aclosing(source):
        result = await anext(source)
    payload = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    try:
        return answers.encode(payload)
    except answers.AnswerTooLarge as error:
        return answers.encode(answer_too_large(error))


def get() -> Hub:
    """This process's hub."""
    return loop_local(Hub)
