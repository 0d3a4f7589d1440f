"""A minimal graphql-transport-ws client over `websockets`, for tests against real servers."""

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import threading
from collections import defaultdict

import redis.asyncio
import websockets
from channels.layers import get_channel_layer
from django.conf import settings

from schema.graphql.ids import decode_file_id
from schema.live import channel
from tests.support.operations import WATCH_ALL

PROTOCOL = "graphql-transport-ws"
TEXT, CLOSE = 0x1, 0x8  # websocket opcodes
DEFAULT_TIMEOUT = 10


class Subscription:
    def __init__(self, socket):
        self.socket = socket

    @classmethod
    async def open(cls, url, *, token=None, origin=None, cookie=None, payload=None, **options):
        """Connect and initialise; `options` go to `websockets.connect` (e.g. a `sock`)."""
        headers = {"Cookie": cookie} if cookie else {}
        socket = await websockets.connect(
            url,
            subprotocols=[PROTOCOL],
            origin=origin,
            additional_headers=headers,
            open_timeout=DEFAULT_TIMEOUT,
            **options,
        )
        init_payload = (
            payload
            if payload is not None
            else ({"Authorization": f"Bearer {token}"} if token else {})
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        ack = await cls(socket).receive()
        assert ack["type"] == "connection_ack", ack
        return cls(socket)

    async def receive(self, timeout=DEFAULT_TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def subscribe(self, query, variables=None, operation_id="1", *, owner=None) -> None:
        """Start a subscription. With `owner` (a user), return only once the server has
        joined that user's group for it: graphql-transport-ws has no "subscribed" message,
        and an event published before the join would be missed by design. The server's live
        hub joins (or renews) the group for every new subscription once the subscription is
        registered, so a new member or a renewed one is the sign."""
        before = await group_scores(owner) if owner else {}
        await self.send(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        if owner:
            async with asyncio.timeout(DEFAULT_TIMEOUT):
                while not renewed(before, await group_scores(owner)):
                    await asyncio.sleep(0.01)

    async def send(self, message: dict) -> None:
        await self.socket.send(json.dumps(message))

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
    return set(await group_scores(user))


async def group_scores(user=None) -> dict[bytes, float]:
    """Each channel in the group with the time it last joined it."""
    group = channel.owner_group(user.pk) if user is not None else channel.ALL_FILES_GROUP
    client = redis.asyncio.from_url(settings.REDIS_URL)
    try:
        key = get_channel_layer()._group_key(group)
        return dict(await client.zrange(key, 0, -1, withscores=True))
    finally:
        await client.aclose()


def renewed(before: dict, now: dict) -> bool:
    """Whether a channel joined the group, or joined it again, since `before`."""
    return any(score > before.get(member, float("-inf")) for member, score in now.items())


class StalledSubscription(Subscription):
    """graphql-transport-ws over a bare socket that is read only when the test reads: a
    client library (`websockets`) reads everything into memory as it arrives, so it never
    makes the server wait. With a small receive buffer, a few big messages fill it."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server, *, token, receive_buffer=64 * 1024):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        # The stream reads ahead at most twice its limit.
        reader, writer = await asyncio.open_connection(sock=sock, limit=receive_buffer)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /graphql/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
            ).encode()
        )
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEFAULT_TIMEOUT)
        assert response.startswith(b"HTTP/1.1 101"), response
        subscription = cls(reader, writer)
        await subscription.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        ack = await subscription.receive()
        assert ack["type"] == "connection_ack", ack
        return subscription

    async def send(self, message: dict) -> None:
        """One masked text frame (clients must mask)."""
        data, mask = json.dumps(message).encode(), os.urandom(4)
        length = len(data)
        header = (
            struct.pack("!BB", 0x81, 0x80 | length)
            if length < 126
            else struct.pack("!BBH", 0x81, 0x80 | 126, length)
        )
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        await self.writer.drain()

    async def receive(self, timeout=DEFAULT_TIMEOUT) -> dict:
        """The next text message (the server sends them unfragmented; pings are skipped);
        ConnectionClosed with the server's code on a close frame."""
        async with asyncio.timeout(timeout):
            while True:
                opcode, data = await self.frame()
                if opcode == CLOSE:
                    code = int.from_bytes(data[:2], "big")
                    raise websockets.ConnectionClosed(websockets.frames.Close(code, ""), None)
                if opcode == TEXT:
                    return json.loads(data)

    async def frame(self) -> tuple[int, bytes]:
        first, length = await self.reader.readexactly(2)
        length &= 0x7F
        if length >= 126:
            size = 2 if length == 126 else 8
            length = int.from_bytes(await self.reader.readexactly(size), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    async def close_code(self, timeout) -> int | None:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.receive(timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code

    async def close(self):
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class Watcher:
    """A live `fileUpdates` subscription to all of the user's files, read on a loop of its
    own (the test itself blocks on processes), recording every event per file id."""

    def __init__(self, server, token, user):
        self.events: dict[str, list[dict]] = defaultdict(list)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.subscription = self.call(self.open(server, token, user))
        self.reader = asyncio.run_coroutine_threadsafe(self.read(), self.loop)

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def open(self, server, token, user):
        subscription = await Subscription.open(server.ws_url, token=token)
        await subscription.subscribe(WATCH_ALL, owner=user)  # returns once it has joined
        return subscription

    async def read(self):
        while True:
            event = await self.subscription.next_file(timeout=None)
            self.events[str(decode_file_id(event["id"]))].append(event)

    def saw_done(self, file_id) -> bool:
        assert not self.reader.done(), self.reader.result()  # raises what stopped it
        return any(event["status"] == "DONE" for event in self.events[str(file_id)])

    def close(self):
        self.reader.cancel()
        self.call(self.subscription.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


async def close_code_after_init(server, payload: str) -> int:
    """The close code the server answers a `connection_init` carrying `payload` with."""
    async with websockets.connect(server.ws_url, subprotocols=[PROTOCOL]) as socket:
        await socket.send('{"type": "connection_init", "payload": %s}' % payload)
        try:
            await asyncio.wait_for(socket.recv(), DEFAULT_TIMEOUT)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code
    raise AssertionError(f"the connection was acknowledged, not closed: {payload}")
