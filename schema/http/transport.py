"""Raw ASGI for the routes answered in front of Django (the GraphQL endpoint, tus, the probes,
and a body that stopped arriving): the request's headers read as Django reads them, its body
read as it arrives, the database threads, and the one function that answers.

Every answer given here says `nosniff` and `no-store` (nothing answered here is a page for a
browser to guess at, or a document for a cache to keep) and, over HTTPS with
SECURE_HSTS_SECONDS set, Strict-Transport-Security as Django's SecurityMiddleware sends it on
the routes Django serves.
"""

import asyncio
import functools
import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections

from files_app import storage
from files_app.numbers import parse_digits
from files_app.sizes import MIB, human_size

from ..errors import DATABASE_DOWN, EdgeError, ErrorCode

logger = logging.getLogger(__name__)

JSON = "application/json"
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))
# On S3, what a body's reader is fed at a time from its thread (see receive_into).
S3_FEED_BYTES = MIB


class ClientGone(Exception):
    """The client disconnected before its request was complete: nobody to answer."""


# --- the request ----------------------------------------------------------------------------


def unread_request(scope) -> ASGIRequest:
    """The request's headers, as Django reads them; its body is left to be read here."""
    return ASGIRequest(scope, io.BytesIO())


def check_host(request) -> None:
    """ALLOWED_HOSTS, as Django would check it."""
    try:
        request.get_host()
    except DisallowedHost:
        raise EdgeError("This host is not served here.", ErrorCode.BAD_REQUEST) from None


def declared_length(request) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None  # chunked: the limits apply while the body streams
    length = parse_digits(raw)
    if length is None:
        raise EdgeError("Content-Length is not a number.", ErrorCode.BAD_REQUEST)
    return length


async def body_chunks(receive):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        if chunk := message.get("body"):
            yield chunk
        if not message.get("more_body"):
            return


async def read_body(receive, limit: int) -> bytes:
    body = bytearray()
    async for chunk in body_chunks(receive):
        body += chunk
        if len(body) > limit:
            raise EdgeError(
                f"The request body is larger than {human_size(limit)}.",
                ErrorCode.BAD_USER_INPUT,
                status=413,
            )
    return bytes(body)


async def receive_into(reader, receive) -> None:
    """Feed the body to `reader` (its `feed(chunk)`) as it arrives. On S3 a chunk may complete
    a part that is then sent over the network (and a file part's start opens a multipart
    upload): there the reader runs in a thread, fed S3_FEED_BYTES at a time, so a slow S3
    never holds up the other requests of this process. On local disk each chunk is fed here
    (a buffered write)."""
    if not storage.is_s3():
        async for chunk in body_chunks(receive):
            reader.feed(chunk)
        return
    batch = bytearray()
    async for chunk in body_chunks(receive):
        batch += chunk
        if len(batch) >= S3_FEED_BYTES:
            await asyncio.to_thread(reader.feed, bytes(batch))
            batch.clear()
    if batch:
        await asyncio.to_thread(reader.feed, bytes(batch))


# --- the database threads -------------------------------------------------------------------


def idle_connections():
    """This thread's open database connections, minus any inside a transaction (a test's):
    those are never closed or replaced under it."""
    return (
        connection
        for connection in connections.all(initialized_only=True)
        if not connection.in_atomic_block
    )


def close_obsolete_connections() -> None:
    """Django's `close_old_connections` for idle connections: a kept connection is
    health-checked and replaced when broken (a database restart) or older than CONN_MAX_AGE."""
    for connection in idle_connections():
        connection.close_if_unusable_or_obsolete()


@functools.cache
def database_threads() -> ThreadPoolExecutor | None:
    """A fixed pool: each of its threads keeps its own connection between requests. Without
    one (DATABASE_THREADS=0), asgiref's thread-sensitive rule applies: one shared thread in a
    server, the caller's own thread under `async_to_sync` (the in-process tests)."""
    count = settings.DATABASE_THREADS
    return ThreadPoolExecutor(count, thread_name_prefix="database") if count else None


def with_database(function):
    """Run blocking work on a database thread, with a kept connection that is checked
    (replaced when broken or older than CONN_MAX_AGE) before each use."""

    def run(*args):
        close_obsolete_connections()
        try:
            return function(*args)
        except DATABASE_DOWN:
            raise EdgeError.unavailable() from None

    async def call(*args):
        executor = database_threads()
        if executor is None:
            return await sync_to_async(run)(*args)
        return await sync_to_async(run, thread_sensitive=False, executor=executor)(*args)

    return call


# --- the answer -----------------------------------------------------------------------------


def refusal(error: Exception, where: str) -> EdgeError:
    """What a request that raised `error` is answered: an EdgeError as it is; anything else
    is a bug, logged with its details and answered 500 without them."""
    if isinstance(error, EdgeError):
        return error
    logger.error("Unexpected error in %s", where, exc_info=error)
    return EdgeError.internal()


def json_bytes(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def hsts_value() -> str:
    """What Django's SecurityMiddleware sends on the routes it serves."""
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value


async def answer(
    send,
    request,
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> None:
    """Send the whole answer: the status, the security headers (see the module's docstring),
    the body's type and length, `headers`, then the body."""
    start = [
        *(((b"content-type", content_type.encode()),) if content_type else ()),
        *SECURITY_HEADERS,
        (b"content-length", str(len(body)).encode()),
    ]
    if settings.SECURE_HSTS_SECONDS and request.is_secure():
        start.append((b"strict-transport-security", hsts_value().encode()))
    for name, value in (headers or {}).items():
        start.append((name.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
