"""Every HTTP request body is read at a pace, or its client is dropped: wrapped around every
HTTP request of the web process (schema/http/asgi.py), so the GraphQL endpoint, tus and Django's
routes read their bodies through the same `receive`.

uvicorn times nothing out while a body arrives: a client that sends part of a body and stops,
or trickles a byte now and then, would hold its socket, what the request buffered and what
it wrote (an upload's `.part`) for as long as it liked. Here, after Apache's mod_reqtimeout
(`body=…,MinRate=…`):

- A body read starts with REQUEST_BODY_IDLE_TIMEOUT seconds of credit. Each second spent
  waiting for the client costs one; each REQUEST_BODY_MIN_RATE bytes it sends earn one back,
  up to the timeout again. A client silent for the timeout, or sending slower than the rate,
  runs out: `receive` raises BodyTimeout, answered 408. Only time spent waiting for the client
  counts: what the application does with a chunk (a disk write, an S3 part) is not its fault.
- An answer sent while the body has not been read to its end (refused before the body, a
  limit crossed, a timeout) closes the connection. uvicorn would otherwise read and throw
  away the rest of the body for as long as the client cared to send it, with no timeout at
  all (its keep-alive timer stops at the first byte received).

The request headers are not covered: uvicorn reads them before the application sees
anything, and waits for them without end. The proxy in front closes slow headers
(deploy/nginx.conf.template: `client_header_timeout`), which is one reason uvicorn is not
meant to face the internet on its own (docs/operations.md, "Put a proxy in front of uvicorn").
"""

import asyncio
import logging
import time

from django.conf import settings

from ..errors import EdgeError, ErrorCode
from .transport import answer, json_bytes, unread_request

logger = logging.getLogger(__name__)

CLOSE = (b"connection", b"close")


class BodyTimeout(EdgeError):
    """The client stopped sending its body, or sent it slower than the minimum rate."""

    def __init__(self):
        super().__init__(
            "The request body stopped arriving, or arrived too slowly: send the request again.",
            ErrorCode.REQUEST_TIMEOUT,
        )


def declares_body(scope) -> bool:
    """A request without Content-Length (or with 0) and without Transfer-Encoding has no body
    (RFC 9112, 6.3): nothing to wait for, and an answer leaves the connection reusable."""
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() != b"0"
    return False


class PacedBody:
    """One request's `receive`, timed while its body is unread (see the module's docstring)."""

    def __init__(self, receive, scope):
        self.receive_message = receive
        self.unread = declares_body(scope)
        self.timeout = settings.REQUEST_BODY_IDLE_TIMEOUT
        self.min_rate = settings.REQUEST_BODY_MIN_RATE
        self.credit = self.timeout
        self.received = 0
        self.started = time.monotonic()

    async def receive(self):
        if not self.unread:
            return await self.receive_message()
        waiting = time.monotonic()
        try:
            async with asyncio.timeout(self.credit):
                message = await self.receive_message()
        except TimeoutError:
            self.credit = 0.0
            logger.info(
                "A client's request body stalled: dropped after %d bytes in %.1f s",
                self.received,
                time.monotonic() - self.started,
            )
            raise BodyTimeout() from None
        body = message.get("body", b"")
        self.received += len(body)
        earned = len(body) / self.min_rate if self.min_rate else self.timeout
        waited = time.monotonic() - waiting
        self.credit = max(0.0, min(self.timeout, self.credit - waited + earned))
        if message["type"] != "http.request" or not message.get("more_body"):
            self.unread = False
        return message


def paced(app):
    """ASGI middleware for HTTP: the body read through PacedBody, and `Connection: close` on
    an answer that leaves the body unread. A BodyTimeout that reaches here (Django's handler
    reads the whole body before anything else, and knows nothing of it) is answered 408."""

    async def application(scope, receive, send):
        body = PacedBody(receive, scope)
        started = False

        async def send_closing(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if body.unread:
                    message = {**message, "headers": [*message.get("headers", ()), CLOSE]}
            await send(message)

        try:
            await app(scope, body.receive, send_closing)
        except BodyTimeout as error:
            if started:
                raise
            await answer(
                send_closing, unread_request(scope), error.status, json_bytes(error.body())
            )

    return application
