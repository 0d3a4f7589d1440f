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

uvicorn runs it with `--ws schema.live.protocol:LiveWebSocketProtocol` (tools/processes.py and
the Dockerfile); under another server the hub finds no socket here and falls back to the
ASGI `websocket.send` and a close (schema/live/subscriber.py).
"""

import logging
import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

logger = logging.getLogger(__name__)

EXTENSION = "filesvc.live_socket"
TEXT_FIN = 0x81
SHORT, MEDIUM = 126, 1 << 16


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
        """Bytes written and not yet taken by the kernel."""
        return self.protocol.transport.get_write_buffer_size()

    def send_text(self, *pieces: bytes) -> None:
        """One text message made of `pieces` (UTF-8), each handed to the transport as it is."""
        length = sum(len(piece) for piece in pieces)
        self.protocol.transport.writelines((frame_header(length), *pieces))

    def drop(self) -> None:
        """Close the TCP connection now, dropping whatever waits to be sent."""
        self.protocol.transport.abort()


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only for an accepted handshake
        if scope is not None:
            scope["extensions"][EXTENSION] = LiveSocket(self)

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
