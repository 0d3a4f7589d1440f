"""One `fileUpdates` subscription as the live hub (schema/live/hub.py) sees it: what it wants,
what it has sent, and how an event reaches its socket.

An event for a subscriber with nothing waiting is written at once, in the hub's own turn:
no task wakes up for it (at 10,000 subscribers a wake-up each would be most of the work per
event). The payload is one `bytes` per class of subscribers, written to each socket as a
frame of shared pieces (schema/live/protocol.py), so the subscribers' write buffers hold it
once. A socket whose buffer is full (a client that does not read) gets a task of this
subscriber's own for what comes next, which waits in its outbox: newer state for a file
replaces a pending one of the same status (progress is merged), a status change or a
deletion is never dropped, and past WEBSOCKET_OUTBOX_LIMIT pending events the connection is
closed with 1013 "Try Again Later" (graphql-ws clients reconnect; re-subscribing with `ids`
gives the current state).

What one connection holds is bounded in bytes too (`Outbound`): its subscriptions' outboxes
and its socket's write buffer together, past WEBSOCKET_MAX_BUFFERED_BYTES, and the socket is
dropped at once (a close would wait for the client to read); so is one whose client does
not answer a ping (schema/live/protocol.py).
"""

import asyncio
import collections
import json
import logging

from django.conf import settings

from ..graphql.types import origin
from ..observability import EVENTS_DELIVERED
from . import channel
from .protocol import EXTENSION, LiveSocket

logger = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013


SUFFIX = b"}"


class Outbound:
    """One connection's bytes on their way out: its subscriptions' outboxes, and (under
    uvicorn with schema/live/protocol.py) its socket's write buffer, against one budget."""

    def __init__(self, consumer):
        self.consumer = consumer
        extensions = getattr(consumer, "scope", {}).get("extensions") or {}
        self.socket: LiveSocket | None = extensions.get(EXTENSION)
        self.queued = 0  # payload bytes waiting in this connection's outboxes
        self.dropped = False

    @classmethod
    def of(cls, consumer) -> "Outbound":
        outbound = getattr(consumer, "live_outbound", None)
        if outbound is None:
            outbound = consumer.live_outbound = cls(consumer)
        return outbound

    def held(self) -> int:
        return self.queued + (self.socket.buffered() if self.socket is not None else 0)

    def within_budget(self) -> bool:
        """False, and the connection dropped, once it holds more than its budget."""
        if self.dropped:
            return False
        if self.held() <= settings.WEBSOCKET_MAX_BUFFERED_BYTES:
            return True
        self.dropped = True
        logger.info("Dropped a websocket holding more than WEBSOCKET_MAX_BUFFERED_BYTES")
        if self.socket is not None:
            self.socket.drop()
        else:  # not under our uvicorn protocol: the best ASGI offers
            self.closing = asyncio.ensure_future(
                self.consumer.close(code=TRY_AGAIN_LATER, reason="Too far behind: reconnect")
            )
        return False


def start(coroutine):
    """Run `coroutine` until it first waits: (what it waits on, True), the future or None
    for a bare yield, for `finish` to go on with; or (None, False) once it has finished.
    Python 3.12's eager tasks do the same; this also spares the task when it need not wait."""
    try:
        return coroutine.send(None), True
    except StopIteration:
        return None, False


async def finish(coroutine, waiting) -> None:
    """Go on with a coroutine `start` left waiting on `waiting`, as asyncio's Task would."""
    while True:
        try:
            if waiting is None:
                await asyncio.sleep(0)
            else:  # what a Task does with a future its coroutine yields, then wait for it
                waiting._asyncio_future_blocking = False
                await waiting
        except BaseException as error:  # cancelled (the operation ended): tell it so
            step = coroutine.throw
            argument = error
        else:
            step = coroutine.send
            argument = None
        try:
            waiting = step(argument)
        except StopIteration:
            return


class Subscriber:
    """One `fileUpdates` operation: what it wants, what it has sent, what waits to go."""

    def __init__(self, consumer, operation, wanted: set[str] | None):
        self.consumer, self.operation, self.wanted = consumer, operation, wanted
        self.outbound = Outbound.of(consumer)
        self.groups: set[str] = set()
        self.sent: dict[str, int] = {}  # file id -> version, the per-subscriber stale check
        # (file id, status) -> (version, file id, item); an item is a payload (bytes), or
        # the state itself under graphql-ws.
        self.pending: collections.OrderedDict = collections.OrderedDict()
        # graphql-ws only: its operation task yields the items when woken.
        self.wake = asyncio.Event() if operation is None else None
        self.sending: asyncio.Task | None = None  # a write that had to wait, and what follows
        # While the current state of the listed files is read and sent (`hold`), events wait
        # in the outbox behind it: written at once, one newer than that state would go out
        # first and the older state after it, the last the client sees.
        self.on_hold = False
        self.closing: asyncio.Task | None = None
        self.removed = False  # by the hub, once the subscription ended
        self.document = (
            None
            if operation is None
            else (
                operation.query,
                operation.operation_name,
                json.dumps(operation.variables or {}, sort_keys=True),
            )
        )
        self.envelope = (
            None
            if operation is None
            else ('{"id":' + json.dumps(operation.id) + ',"type":"next","payload":').encode()
        )

    def wants(self, state: dict) -> bool:
        if self.wanted is not None and state["id"] not in self.wanted:
            return False
        if not channel.reaches(self.consumer.viewer_groups, state):
            return False  # the viewer lost a right since this was sent
        return state["version"] > self.sent.get(state["id"], 0)

    def class_key(self):
        """Subscribers with equal keys get the same bytes (None: executed on its own): the
        document, the viewer's rights and the origin are all a payload field may read of the
        viewer (tests/live/test_fanout.py holds the fields to it)."""
        if self.document is None:
            return None
        sees_all = channel.ALL_FILES_GROUP in self.consumer.viewer_groups
        return (self.document, sees_all, origin(self.consumer))

    def ready(self) -> bool:
        """Whether a frame can be written now without waiting."""
        socket = self.outbound.socket
        return socket is None or socket.ready()

    def offer(self, state: dict, item) -> None:
        """Write an event now if nothing waits before it, else queue it without waiting:
        merged into a pending one of the same file and status, else appended; too many
        pending, or too many bytes held for the connection, and it is closed."""
        if self.closing is not None or self.outbound.dropped:
            return
        waiting = self.sending is not None or self.pending or self.on_hold
        if self.operation is not None and not waiting and self.ready():
            if state["version"] > self.sent.get(state["id"], 0):
                self.sent[state["id"]] = state["version"]
                self.write(item)
            return
        # A deletion has a key of its own: no later event may replace it (none should come).
        key = (state["id"], "DELETED" if state.get("deleted") else state["status"])
        self.unqueue(self.pending.pop(key, None))
        self.pending[key] = (state["version"], state["id"], item)
        if self.operation is not None:
            self.outbound.queued += len(item)
        if len(self.pending) > settings.WEBSOCKET_OUTBOX_LIMIT and self.closing is None:
            self.clear()
            logger.info("Closed a websocket that fell too far behind its events")
            self.closing = asyncio.create_task(
                self.consumer.close(code=TRY_AGAIN_LATER, reason="Too far behind: reconnect")
            )
        if not self.outbound.within_budget():
            self.clear()
            return
        if self.operation is None:
            self.wake.set()
        elif self.sending is None and not self.on_hold:
            self.sending = asyncio.create_task(self.drain(None))

    def hold(self) -> None:
        self.on_hold = True

    def release(self) -> None:
        """The current state has gone out: what came meanwhile follows, the stale dropped."""
        self.on_hold = False
        if self.operation is not None and self.pending and self.sending is None:
            self.sending = asyncio.create_task(self.drain(None))

    def unqueue(self, entry) -> None:
        if entry is not None and self.operation is not None:
            self.outbound.queued -= len(entry[2])

    def clear(self) -> None:
        while self.pending:
            self.unqueue(self.pending.popitem()[1])

    def mark_sent(self, file_id: str, version: int) -> None:
        self.sent[file_id] = max(version, self.sent.get(file_id, 0))

    def ended(self) -> bool:
        handler = self.operation.handler
        return (
            self.operation.completed
            or handler.operations.get(self.operation.id) is not self.operation
        )

    def write(self, payload: bytes) -> None:
        """Send one payload under this operation's id: straight to the socket, as shared
        pieces; else (another server) through ASGI, and if that makes it wait, the rest of
        the write and the outbox go on in `drain`."""
        if self.ended():
            return
        socket = self.outbound.socket
        if socket is not None:
            if socket.open():
                socket.send_text(self.envelope, payload, SUFFIX)
                EVENTS_DELIVERED.inc()
                self.outbound.within_budget()
            return
        text = (self.envelope + payload + SUFFIX).decode()
        coroutine = self.consumer.send(text_data=text)
        try:
            waiting, waits = start(coroutine)
        except Exception:  # the client left meanwhile: its disconnect cleans up
            logger.debug("A live event could not be written", exc_info=True)
            return
        EVENTS_DELIVERED.inc()  # counted when handed to the socket, as in `drain`
        if waits:
            self.sending = asyncio.create_task(self.drain(finish(coroutine, waiting)))

    async def drain(self, unfinished) -> None:
        """Finish a write that had to wait, then send the outbox, oldest first, each once
        the socket can take it, stale ones dropped; the next event is written directly
        again once it is empty."""
        socket = self.outbound.socket
        try:
            if unfinished is not None:
                await unfinished
            while self.pending and not self.ended() and not self.outbound.dropped:
                if socket is not None and not socket.ready():
                    if not socket.open():
                        break  # the client left: its disconnect cleans up
                    await socket.until_ready()
                    continue  # the outbox may have been cleared meanwhile
                _, entry = self.pending.popitem(last=False)
                self.unqueue(entry)
                version, file_id, item = entry
                if version > self.sent.get(file_id, 0):
                    self.sent[file_id] = version
                    if socket is not None:
                        self.write(item)
                    else:
                        await self.consumer.send(text_data=(self.envelope + item + SUFFIX).decode())
                        EVENTS_DELIVERED.inc()
        except Exception:  # the client left meanwhile: its disconnect cleans up
            logger.debug("A live event could not be written", exc_info=True)
        finally:
            self.sending = None

    def end(self) -> None:
        """The client completed the operation or left: a write under way stops, and what
        waited in the outbox is let go."""
        if self.sending is not None:
            self.sending.cancel()
        self.clear()

    async def items(self):
        """graphql-ws: the pending items, oldest first, as they come (forever); stale ones
        dropped."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                _, (version, file_id, item) = self.pending.popitem(last=False)
                if version > self.sent.get(file_id, 0):
                    self.sent[file_id] = version
                    yield item
