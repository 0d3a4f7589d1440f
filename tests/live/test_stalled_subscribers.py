"""Subscribers that stop reading are dropped (docs/reliability.md, item 30), on a real uvicorn
run as deployed (schema/live/protocol.py): a connection holding more than
WEBSOCKET_MAX_BUFFERED_BYTES (its outboxes and its socket's write buffer) is dropped at once,
and so is one whose client leaves a ping unanswered, whatever waits in its buffer; a frame
sent to many subscribers is held once.

The stalled clients are bare sockets with a small receive buffer that the test never reads
(tests/support/wsclient.py: StalledSubscription). "Dropped" is seen from the server's side:
it holds no socket for the client any more (psutil), although the client has read nothing
and still holds its end. uvicorn's own close would wait for the client to read."""

import time
import uuid

import psutil
import pytest
from channels.layers import get_channel_layer

from files_app.sizes import KIB, MIB
from schema.live import channel
from tests.support.processes import Server
from tests.support.wsclient import StalledSubscription, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

NAME_ONLY = "subscription { fileUpdates { id name } }"
READER = "subscription { fileUpdates { name } }"  # another class than NAME_ONLY
HALF_MIB_NAME = "n" * (512 * KIB)
NO_PING = ("--ws-ping-interval", "600", "--ws-ping-timeout", "600")
DROP_TIMEOUT = 20
# Between one copy of each frame (27 MiB measured) and one per subscriber (66 MiB).
HELD_ONCE_BOUND = 40 * MIB


def state(owner, name: str, version: int = 1, status: str = "DONE") -> dict:
    """A new file's public state as the workers publish it (files_app/events.py)."""
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "size": 1,
        "content_type": "text/plain",
        "kind": "OTHER",
        "sha256": "",
        "status": status,
        "progress": 1.0,
        "error": "",
        "failure_code": "",
        "version": version,
        "owner_id": owner.pk,
        "result": None,
        "thumbnail": "",
        "uploaded_at": "2026-01-01T00:00:00+00:00",
        "processed_at": None,
        "deleted": False,
    }


async def publish(owner, file_state: dict) -> None:
    await get_channel_layer().group_send(
        channel.owner_group(owner.pk), {"type": channel.MESSAGE_TYPE, "file": file_state}
    )


async def stalled(server, token, owner) -> StalledSubscription:
    subscription = await StalledSubscription.open(server, token=token)
    await subscription.subscribe(NAME_ONLY, owner=owner)
    return subscription


def client_port(subscription: StalledSubscription) -> int:
    return subscription.writer.get_extra_info("sockname")[1]


def server_holds(server, port: int) -> bool:
    """Whether the server still has a socket connected to the client's `port`."""
    return any(
        connection.raddr and connection.raddr.port == port
        for connection in psutil.Process(server.pid).net_connections(kind="tcp")
    )


def dropped_within(server, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while server_holds(server, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # polling the server's sockets, bounded by the deadline
    return True


async def test_a_connection_over_its_byte_budget_is_dropped_at_once(process_logs, user, token):
    """20 distinct files' events of half a MiB each: nothing to merge, far below the outbox's
    500 events, and over its 2 MiB once the kernel's buffers are full."""
    server = Server(
        "uvicorn",
        process_logs,
        env={"WEBSOCKET_MAX_BUFFERED_BYTES": str(2 * MIB)},
        options=NO_PING,
    )
    try:
        subscription = await stalled(server, token, user)
        port = client_port(subscription)
        for _ in range(2):
            await publish(user, state(user, HALF_MIB_NAME))
        assert server_holds(server, port)  # within its budget it stays
        for _ in range(18):
            await publish(user, state(user, HALF_MIB_NAME))
        assert dropped_within(server, port, DROP_TIMEOUT), "the stalled connection was kept"
        await subscription.close()
    finally:
        server.stop()


async def test_an_unanswered_ping_drops_the_socket_whatever_waits_in_its_buffer(
    process_logs, user, token
):
    """The client's socket is full and its buffer not yet over the budget: its ping goes
    unanswered (uvicorn's close would then wait for the buffer to drain, forever)."""
    server = Server(
        "uvicorn",
        process_logs,
        options=("--ws-ping-interval", "5", "--ws-ping-timeout", "5"),
    )
    try:
        subscription = await stalled(server, token, user)
        port = client_port(subscription)
        for _ in range(10):  # 5 MiB: the kernel's buffers full, the rest in the server's
            await publish(user, state(user, HALF_MIB_NAME))
        assert server_holds(server, port)
        assert dropped_within(server, port, 30), "the stalled connection was kept"
        await subscription.close()
    finally:
        server.stop()


def rss(server) -> int:
    return psutil.Process(server.pid).memory_info().rss


async def test_a_frame_sent_to_many_subscribers_is_held_once(process_logs, user, token):
    """16 stalled subscribers of one class, 3 events of 3 MiB each: what waits for them is
    one copy of each payload (the server grew by 27 MiB, encoding included), not one per
    subscriber (66 MiB). A reading subscriber of another class tells when the hub has
    dispatched them (it dispatches in order)."""
    subscribers, frames, frame = 16, 3, 3 * MIB
    server = Server(
        "uvicorn",
        process_logs,
        env={"WEBSOCKET_MAX_BUFFERED_BYTES": str(64 * MIB)},
        options=NO_PING,
    )
    try:
        watching = [await stalled(server, token, user) for _ in range(subscribers)]
        reader = await Subscription.open(server.ws_url, token=token, max_size=None)
        await reader.subscribe(READER, owner=user)
        await publish(user, state(user, "warm"))  # each class's first execution
        assert (await reader.next_file())["name"] == "warm"
        before = rss(server)
        for _ in range(frames):
            await publish(user, state(user, "n" * frame))
        await publish(user, state(user, "last"))
        while (await reader.next_file(timeout=DROP_TIMEOUT))["name"] != "last":
            pass
        grown = rss(server) - before
        assert all(server_holds(server, client_port(each)) for each in watching)
        assert grown < HELD_ONCE_BOUND, f"the server grew by {grown / MIB:.0f} MiB"
        for each in [reader, *watching]:
            await each.close()
    finally:
        server.stop()
