"""The server side of one websocket: uvicorn's sans-I/O protocol, plus what the live hub needs
to bound what a client that stops reading can hold.

uvicorn closes a connection whose ping went unanswered with `transport.close()`, which waits
for the write buffer to drain: for a client that stopped reading, never, so its frames stay
in memory until the client goes (10 such subscribers held +239 MiB). Here an unanswered ping
drops the socket at once (`transport.abort()`), and the application gets, in its scope's
extensions under `EXTENSION`, a `LiveSocket`: how many bytes wait in the write buffer, a
way to write a text frame from shared pieces, and `drop()`.

A frame written through `send_text` is built from the pieces it is given without joining
them: the transport keeps a reference to each (uvloop does, for `bytes`), so a payload sent
to many subscribers is held once, not once per subscriber. The frame is a plain unmasked
text frame (RFC 6455, 5.2), valid whatever extension was negotiated (an uncompressed
message does not set RSV1).

While the hub hands out events that arrived together it corks the sockets it writes to
(`cork`/`uncork`): their frames wait, and each socket gets them in one write (one `writev`)
when it is uncorked. The write is the largest part of an event's cost per subscriber
(py-spy: 42 % of the hub's dispatch at 2,000 subscribers), so events taken together cost a
subscriber one write (a small file's PROCESSING and DONE usually are). What
waits counts in `buffered()`, past CORKED_BYTES it is written at once, and any other frame
(an ASGI send) goes out after it, so the order on the wire is the order written.

uvicorn runs it with `--ws schema.live.protocol:LiveWebSocketProtocol` (tools/processes.py and
the Dockerfile); under another server the hub finds no socket here and falls back to the
ASGI `websocket.send` and a close (schema/live/subscriber.py).
"""

import asyncio
import logging
import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

logger = logging.getLogger(__name__)

EXTENSION = "filesvc.live_socket"
TEXT_FIN = 0x81
SHORT, MEDIUM = 126, 1 << 16
# What a corked socket holds before it is written anyway: a few events' worth, so corking
# never makes a connection look over its byte budget.
CORKED_BYTES = 64 * 1024


def frame_header(length: int) -> bytes:
    """A final, unmasked text frame's header for `length` bytes of payload."""
    if length < SHORT:
        return struct.pack("!BB", TEXT_FIN, length)
    if length < MEDIUM:
        return struct.pack("!BBH", TEXT_FIN, 126, length)
    return struct.pack("!BBQ", TEXT_FIN, 127, length)


class LiveSocket:
    """What the application may do with its connection beyond ASGI."""

    def __init__(self, protocol: "LiveWebSocketProtocol"):
        self.protocol = protocol
        self.corked: list[bytes] | None = None  # frames waiting for `uncork`
        self.corked_bytes = 0

    def open(self) -> bool:
        protocol = self.protocol
        return (
            protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.conn.state is State.OPEN
        )

    def ready(self) -> bool:
        """Open, and its write buffer below the transport's high-water mark."""
        return self.open() and self.protocol.writable.is_set()

    async def until_ready(self) -> None:
        await self.protocol.writable.wait()

    def buffered(self) -> int:
        """Bytes written (corked or not) and not yet taken by the kernel."""
        return self.protocol.transport.get_write_buffer_size() + self.corked_bytes

    def send_text(self, *pieces: bytes) -> None:
        """One text message made of `pieces` (UTF-8), each handed to the transport as it is
        (or kept for one write with the others, while corked)."""
        length = sum(len(piece) for piece in pieces)
        header = frame_header(length)
        if self.corked is None:
            self.protocol.transport.writelines((header, *pieces))
            return
        self.corked += (header, *pieces)
        self.corked_bytes += len(header) + length
        if self.corked_bytes >= CORKED_BYTES:
            self.write_corked()

    def cork(self) -> bool:
        """Keep what is sent until `uncork`; False if it was corked already."""
        if self.corked is not None:
            return False
        self.corked = []
        return True

    def uncork(self) -> None:
        """Write what was kept, in one write, and write at once from now on."""
        self.write_corked()
        self.corked = None

    def write_corked(self) -> None:
        corked = self.corked
        if corked:
            self.corked, self.corked_bytes = [], 0
            if self.open():  # closing or gone meanwhile: the client is not reading events
                self.protocol.transport.writelines(corked)

    def drop(self) -> None:
        """Close the TCP connection now, dropping whatever waits to be sent."""
        self.corked, self.corked_bytes = None, 0
        self.protocol.transport.abort()


class Corks:
    """The sockets corked for events handed out together, uncorked together."""

    def __init__(self):
        self.sockets: list[LiveSocket] = []
        self.since = 0.0

    def __bool__(self) -> bool:
        return bool(self.sockets)

    def add(self, socket: LiveSocket | None) -> None:
        """Cork `socket` (None: not under this protocol) until `uncork`."""
        if socket is not None and socket.cork():
            if not self.sockets:
                self.since = asyncio.get_running_loop().time()
            self.sockets.append(socket)

    def age(self) -> float:
        return asyncio.get_running_loop().time() - self.since

    def uncork(self) -> None:
        sockets, self.sockets = self.sockets, []
        for socket in sockets:
            socket.uncork()


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    live: LiveSocket | None = None

    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only for an accepted handshake
        if scope is not None:
            self.live = scope["extensions"][EXTENSION] = LiveSocket(self)

    async def send(self, message) -> None:
        """An ASGI send: after the frames the hub corked before it (a `next` before a close)."""
        if self.live is not None and self.live.corked:
            self.live.write_corked()
        await super().send(message)

    def keepalive_timeout(self) -> None:
        """The client did not answer a ping in time: drop the connection, whatever waits in
        its write buffer (uvicorn's close would wait for the buffer to drain)."""
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.disconnected:
            return
        logger.info("Dropped a websocket whose client did not answer a ping")
        self.close_sent = True
        self.transport.abort()
