"""What an idle connection holds in the event loop: no task of its own besides the one the
server runs the application in (docs/live-connection-cost.md). The application is driven
in-process by Channels' communicator, which plays that one task, so every task the
connection adds shows in the loop."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from tests.support.operations import WATCH_ALL
from tests.support.wsclient import DEFAULT_TIMEOUT, PROTOCOL, group_size

pytestmark = pytest.mark.django_db(transaction=True)

# The process's own loops, one per web process whatever the connections: the live hub's
# receiver and refresher, the revalidation loop and the batch that uncounts closed ones.
PROCESS_WIDE = {
    "Hub.receive_forever",
    "Hub.refresh_forever",
    "Revalidation.check_forever",
    "Removals.flush",
}
# The one task per connection: the server's (here the communicator's) running the application.
APPLICATION = "with_request_id.<locals>.application"


def tasks_by_coroutine() -> set[str]:
    return {
        getattr(task.get_coro(), "__qualname__", repr(task.get_coro()))
        for task in asyncio.all_tasks()
        if not task.done()
    }


async def test_an_idle_subscription_holds_no_task_of_its_own(token, user):
    from project.asgi import application

    before = tasks_by_coroutine()
    communicator = WebsocketCommunicator(
        application, "/graphql/", subprotocols=[PROTOCOL], headers=[(b"host", b"localhost")]
    )
    connected, _ = await communicator.connect(DEFAULT_TIMEOUT)
    assert connected
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await communicator.send_json_to(init)
    assert (await communicator.receive_json_from(DEFAULT_TIMEOUT))["type"] == "connection_ack"
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": WATCH_ALL}}
    await communicator.send_json_to(subscribe)
    async with asyncio.timeout(DEFAULT_TIMEOUT):
        while await group_size(user) != 1:
            await asyncio.sleep(0.02)  # polling Redis for the hub's join, bounded

    def added() -> set[str]:
        return tasks_by_coroutine() - before - PROCESS_WIDE - {APPLICATION}

    try:  # the subscription's setup runs in a task until it is handed to the hub
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            while added():
                await asyncio.sleep(0.02)  # polling the loop's tasks, bounded
    except TimeoutError:
        pytest.fail(f"an idle connection holds tasks of its own: {added()}")
    await communicator.send_json_to({"type": "ping"})  # still served, from the one task
    assert (await communicator.receive_json_from(DEFAULT_TIMEOUT))["type"] == "pong"
    await communicator.disconnect()


def test_the_handler_overrides_the_strawberry_it_was_written_for():
    """schema/live/transport.py and websocket.py replace Strawberry's operation run and
    cleanup and its consumer's read loop, and use its private `_OperationStreamClosed`: an
    upgrade must be read against them first, so it fails here until the pin moves with it."""
    from importlib.metadata import version

    from strawberry.channels import GraphQLWSConsumer
    from strawberry.subscriptions.protocols.graphql_transport_ws import handlers

    assert version("strawberry-graphql") == "0.341.2"
    assert hasattr(handlers, "_OperationStreamClosed")
    base = handlers.BaseGraphQLTransportWSHandler
    for name in ("run_operation", "_send_result_stream", "cleanup_operation"):
        assert hasattr(base, name), name
    for name in ("_check_websocket_origin", "pick_websocket_subprotocol", "get_context"):
        assert hasattr(GraphQLWSConsumer, name), name
