"""The websocket's protocol behaviours on a real server (graphql-transport-ws, and the older
graphql-ws): the close codes clients act on, ping and pong, `complete`, queries over the
socket, and a subscription that ends (completed or its socket gone) leaving the live hub's
groups."""

import asyncio
import json

import pytest
import websockets

from tests.support.operations import SUBSCRIBE, upload
from tests.support.wsclient import DEFAULT_TIMEOUT, Subscription, group_size

pytestmark = pytest.mark.django_db(transaction=True)

LEGACY_PROTOCOL = "graphql-ws"


async def close_code(subscription: Subscription) -> int:
    return await subscription.close_code(DEFAULT_TIMEOUT)


async def members_become(user, count) -> None:
    """The user's group reaches `count` members: the hub joined or left it."""
    async with asyncio.timeout(DEFAULT_TIMEOUT):
        while await group_size(user) != count:
            await asyncio.sleep(0.02)  # polling Redis, bounded by the timeout


async def test_ping_is_answered_with_pong(uvicorn_server, token):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.send({"type": "ping"})
    assert (await subscription.receive())["type"] == "pong"
    await subscription.send({"type": "pong"})  # an unsolicited pong is fine
    await subscription.send({"type": "ping"})
    assert (await subscription.receive())["type"] == "pong"
    await subscription.close()


async def test_a_second_connection_init_is_closed_4429(uvicorn_server, token):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.send({"type": "connection_init", "payload": {}})
    assert await close_code(subscription) == 4429


async def test_a_duplicate_operation_id_is_closed_4409(uvicorn_server, token, user):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, operation_id="same", owner=user)
    await subscription.subscribe(SUBSCRIBE, operation_id="same")
    assert await close_code(subscription) == 4409


async def test_subscribe_before_connection_init_is_closed_4401(uvicorn_server):
    socket = await websockets.connect(uvicorn_server.ws_url, subprotocols=["graphql-transport-ws"])
    subscription = Subscription(socket)
    await subscription.send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
    assert await close_code(subscription) == 4401


@pytest.mark.parametrize(
    "frame",
    ['{"type": "nonsense"}', "not json", b"\x00binary", '{"id": "1"}', "[1, 2]"],
    ids=["unknown type", "not JSON", "binary", "no type", "not an object"],
)
async def test_a_bad_message_is_closed_4400(uvicorn_server, token, frame):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.socket.send(frame)
    assert await close_code(subscription) == 4400


async def test_a_query_over_the_socket_gets_next_then_complete(uvicorn_server, token):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.send(
        {"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}}
    )
    answer, done = await subscription.receive(), await subscription.receive()
    await subscription.close()
    assert answer == {"id": "q", "type": "next", "payload": {"data": {"__typename": "Query"}}}
    assert done == {"id": "q", "type": "complete"}


async def test_an_invalid_subscription_gets_an_error(uvicorn_server, token):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    query = "subscription { fileUpdates { nope } }"
    await subscription.send({"id": "bad", "type": "subscribe", "payload": {"query": query}})
    message = await subscription.receive()
    await subscription.close()
    assert message["type"] == "error" and message["id"] == "bad", message


async def test_complete_ends_the_subscription_and_frees_its_id(uvicorn_server, token, user):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, operation_id="1", owner=user)
    await members_become(user, 1)
    await subscription.send({"id": "1", "type": "complete"})
    await members_become(user, 0)  # the hub left the group: no one here needs it
    mine = await upload(uvicorn_server, token, "mine.txt", b"mine")
    await subscription.subscribe(SUBSCRIBE, {"ids": [mine["id"]]}, operation_id="1")
    assert (await subscription.next_file())["id"] == mine["id"]  # the id is free again
    await subscription.close()


async def test_a_closed_socket_ends_its_subscriptions(uvicorn_server, token, user):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, operation_id="a", owner=user)
    await subscription.subscribe(SUBSCRIBE, operation_id="b", owner=user)
    await members_become(user, 1)
    await subscription.close()
    await members_become(user, 0)


async def test_the_older_graphql_ws_protocol_is_served(uvicorn_server, token):
    mine = await upload(uvicorn_server, token, "legacy.txt", b"legacy")
    async with websockets.connect(uvicorn_server.ws_url, subprotocols=[LEGACY_PROTOCOL]) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        start = {"id": "1", "type": "start", "payload": {"query": SUBSCRIBE}}
        start["payload"]["variables"] = {"ids": [mine["id"]]}
        await socket.send(json.dumps(start))
        data = json.loads(await socket.recv())
        await socket.send(json.dumps({"id": "1", "type": "stop"}))
    assert data["type"] == "data" and data["id"] == "1", data
    assert data["payload"]["data"]["fileUpdates"]["id"] == mine["id"]
