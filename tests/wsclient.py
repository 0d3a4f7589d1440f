"""A minimal graphql-transport-ws client over `websockets`, for tests against real servers."""

import asyncio
import contextlib
import json

import redis.asyncio
import websockets
from channels.layers import get_channel_layer
from django.conf import settings

from schema import live

PROTOCOL = "graphql-transport-ws"
DEFAULT_TIMEOUT = 10


class Subscription:
    def __init__(self, socket):
        self.socket = socket

    @classmethod
    async def open(cls, url, *, token=None, origin=None, cookie=None, payload=None):
        headers = {"Cookie": cookie} if cookie else {}
        socket = await websockets.connect(
            url, subprotocols=[PROTOCOL], origin=origin, additional_headers=headers,
            open_timeout=DEFAULT_TIMEOUT,
        )
        init_payload = payload if payload is not None else (
            {"Authorization": f"Bearer {token}"} if token else {}
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        ack = await cls(socket).receive()
        assert ack["type"] == "connection_ack", ack
        return cls(socket)

    async def receive(self, timeout=DEFAULT_TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def subscribe(self, query, variables=None, operation_id="1", *, owner=None) -> None:
        """Start a subscription. With `owner` (a user), return only once the server has
        joined that user's group: graphql-transport-ws has no "subscribed" message, and an
        event published before the join would be missed by design."""
        before = await group_members(owner) if owner else set()
        await self.socket.send(json.dumps({
            "id": operation_id, "type": "subscribe",
            "payload": {"query": query, "variables": variables or {}},
        }))
        if owner:
            # A new member, not a bigger count: an earlier connection may be leaving meanwhile.
            async with asyncio.timeout(DEFAULT_TIMEOUT):
                while not await group_members(owner) - before:
                    await asyncio.sleep(0.01)

    async def next_file(self, timeout=DEFAULT_TIMEOUT) -> dict:
        """The next `fileUpdates` payload; fails on an error or a completed subscription."""
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["fileUpdates"]

    async def files_until(self, predicate, timeout=DEFAULT_TIMEOUT) -> list[dict]:
        """Every file event up to and including the first that satisfies `predicate`."""
        received = []
        async with asyncio.timeout(timeout):
            while not received or not predicate(received[-1]):
                received.append(await self.next_file())
        return received

    async def closed_within(self, timeout) -> bool:
        """True once the server has closed the connection (whatever it sent before)."""
        return await self.close_code(timeout) is not None

    async def close_code(self, timeout) -> int | None:
        """The code the server closes the connection with, once it does (whatever it sent
        before); TimeoutError if it is still open after `timeout` seconds."""
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.socket.recv()
        return self.socket.close_code

    async def close(self):
        await self.socket.close()


async def group_size(user=None) -> int:
    """Consumers in the user's channel-layer group (without a user: the all-files group)."""
    return len(await group_members(user))


async def group_members(user=None) -> set[bytes]:
    """The channels in the user's channel-layer group (without a user: the all-files
    group), read from Redis."""
    group = live.owner_group(user.pk) if user is not None else live.ALL_FILES_GROUP
    client = redis.asyncio.from_url(settings.REDIS_URL)
    try:
        return set(await client.zrange(get_channel_layer()._group_key(group), 0, -1))
    finally:
        await client.aclose()
