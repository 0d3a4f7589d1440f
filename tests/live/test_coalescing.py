"""Events the live hub took from Redis together reach a subscriber in one socket write
(schema/live/hub.py, schema/live/protocol.py), in order, none lost; and a frame sent through
ASGI after them goes out after them.

The application runs under a real uvicorn in the test's own loop, so the hub is the test's
and each write to a connection's transport can be seen: the one stand-in is a wrapper around
uvicorn's real transport that records what is written through it.
"""

import asyncio
import contextlib

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from files_app import events
from schema.live import channel
from schema.live import layer as live_layer
from schema.live.protocol import LiveWebSocketProtocol
from tests.support.files import make_file
from tests.support.operations import WATCH_ALL
from tests.support.wsclient import DEFAULT_TIMEOUT, Subscription
from tools.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

TOGETHER = 20


class RecordedTransport:
    """uvicorn's transport, with each write recorded (as the bytes it carries)."""

    def __init__(self, transport, writes: list[bytes]):
        self.transport, self.writes = transport, writes

    def write(self, data) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def writelines(self, pieces) -> None:
        pieces = list(pieces)
        self.writes.append(b"".join(pieces))
        self.transport.writelines(pieces)

    def __getattr__(self, name):
        return getattr(self.transport, name)


class RecordingProtocol(LiveWebSocketProtocol):
    writes: list[bytes] = []

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.transport = RecordedTransport(self.transport, RecordingProtocol.writes)


@contextlib.asynccontextmanager
async def served():
    """The application under uvicorn in this loop, with the recording protocol."""
    from project.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        ws=RecordingProtocol,
        ws_ping_interval=None,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            while not server.started:
                await asyncio.sleep(0.01)  # polling uvicorn's own flag, bounded
        yield f"ws://127.0.0.1:{port}/graphql/"
    finally:
        server.should_exit = True
        await serving


async def publish_at_once(states: list[dict]) -> None:
    """Each state to its groups as the service publishes it, all in one Redis transaction, so
    they wait in the hub's queue together (a hub blocked in BZPOPMIN gets the first alone)."""
    layer = get_channel_layer()
    connection = layer.connection(0)
    await connection.script_load(live_layer.SEND_MANY)
    async with connection.pipeline(transaction=True) as pipeline:
        for state in states:
            groups = (channel.owner_group(state["owner_id"]), channel.ALL_FILES_GROUP)
            message = {"type": channel.MESSAGE_TYPE, "file": state}
            keys, args = layer.script_arguments(groups, message)
            pipeline.evalsha(live_layer.SEND_MANY_SHA, len(keys), *keys, *args)
        await pipeline.execute()


def events_in(write: bytes) -> int:
    return write.count(b'"type":"next"')


async def test_events_taken_together_reach_a_subscriber_in_one_write(token, user):
    file = await sync_to_async(make_file)(user, b"coalesced")
    state = events.file_state(file)
    states = [{**state, "version": state["version"] + n} for n in range(1, TOGETHER + 2)]
    RecordingProtocol.writes.clear()

    async with served() as url:
        subscription = await Subscription.open(url, token=token)
        await subscription.subscribe(WATCH_ALL, owner=user)
        before = len(RecordingProtocol.writes)
        await publish_at_once(states)

        received = [await subscription.next_file() for _ in states]
        await subscription.close()

    assert [event["version"] for event in received] == [s["version"] for s in states]
    writes = [events_in(write) for write in RecordingProtocol.writes[before:] if events_in(write)]
    assert sum(writes) == len(states), writes
    # The first may come alone (a blocked BZPOPMIN takes one); the rest were taken together.
    assert len(writes) <= 2, f"{len(states)} events taken together took {len(writes)} writes"


async def test_a_frame_sent_through_asgi_goes_after_the_events_written_before_it(token, user):
    """An ASGI send (here the close a lost right causes) while events are corked: the events
    go out first, then the close; nothing is written after the close."""
    from schema.live import hub as live_hub

    file = await sync_to_async(make_file)(user, b"before the close")
    state = events.file_state(file)
    RecordingProtocol.writes.clear()

    async with served() as url:
        subscription = await Subscription.open(url, token=token)
        await subscription.subscribe(WATCH_ALL, owner=user)
        hub = live_hub.get()
        (subscriber,) = hub.members[channel.owner_group(user.pk)]
        socket = subscriber.outbound.socket
        hub.corks.add(socket)  # as the hub does while events taken together go out
        await hub.dispatch({**state, "version": state["version"] + 1})
        assert socket.corked, "the event was written at once, not corked"
        await subscriber.consumer.close(code=4403)

        received = await subscription.receive()
        code = await subscription.close_code(DEFAULT_TIMEOUT)
        hub.corks.uncork()

    assert received["type"] == "next", received
    assert received["payload"]["data"]["fileUpdates"]["version"] == state["version"] + 1
    assert code == 4403
