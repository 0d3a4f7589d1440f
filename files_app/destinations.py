"""Where a webhook may send, and one POST there (services/webhooks.py).

Server-side request forgery: a webhook's URL is the user's, and the worker that sends it
sits inside our network. A destination is refused when any address its host resolves to is
not a public one (loopback, private, link-local with the clouds' metadata address, shared,
multicast, reserved: `ipaddress`'s `is_global`), at creation and again at every send; the
send connects to the very address it checked, so a name that resolves elsewhere a moment
later (DNS rebinding) gains nothing. `WEBHOOK_ALLOW_PRIVATE_ADDRESSES` lifts the check for
local development and the tests. The standard library's `http.client` never follows a
redirect, and the whole exchange has a deadline: a receiver that answers one byte at a time
is cut off at `timeout` as surely as one that never answers.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
from typing import NamedTuple
from urllib.parse import urlsplit

from .exceptions import InvalidWebhookUrl, WebhookDestinationRefused

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048  # Webhook.url's


class Destination(NamedTuple):
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line


class Answer(NamedTuple):
    status: int
    excerpt: bytes  # the body's start, `max_bytes` at most


def parse(url: str) -> Destination:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"A webhook URL is at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookUrl(f"Not a valid URL: {error}.") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidWebhookUrl("A webhook URL is an absolute http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("A webhook URL may not carry credentials: sign, don't log in.")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise InvalidWebhookUrl("A webhook URL may not contain spaces or control characters.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, parts.hostname, port or SCHEMES[parts.scheme], target)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(destination: Destination, *, allow_private: bool) -> list[str]:
    """Every address the host resolves to, all of them checked: one private address among
    public ones is refused too (the resolver's order is not ours to trust)."""
    try:
        found = socket.getaddrinfo(
            destination.host, destination.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise not_public(destination) from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise not_public(destination)
    return addresses


def not_public(destination: Destination) -> WebhookDestinationRefused:
    """One message whether the name does not resolve or resolves to a private address, and
    the address never named: `createWebhook` must not tell a user what our own resolver
    makes of internal names."""
    return WebhookDestinationRefused(
        f"The host {destination.host!r} is not a public destination: it does not resolve, or "
        "resolves to a loopback, private, link-local or metadata address."
    )


def check(url: str, *, allow_private: bool) -> Destination:
    destination = parse(url)
    resolve(destination, allow_private=allow_private)
    return destination


class PinnedConnection(http.client.HTTPConnection):
    """Connects to `address`, while the Host header (and TLS's server name) stay the URL's."""

    def __init__(self, destination: Destination, address: str, timeout: float, tls: bool):
        super().__init__(destination.host, destination.port, timeout=timeout)
        self.address, self.tls = address, tls

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.tls:
            context = ssl.create_default_context()
            self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
) -> Answer:
    """POST `body` to `url` through the first address that accepts a connection (all of them
    checked first). Raises WebhookDestinationRefused, TimeoutError or OSError."""
    destination = parse(url)
    addresses = resolve(destination, allow_private=allow_private)
    error: OSError = OSError("no address")
    for address in addresses:
        connection = PinnedConnection(destination, address, timeout, destination.scheme == "https")
        # The deadline of the whole exchange: the socket's timeout bounds each read, this
        # bounds their sum. Shutting the socket down wakes the read blocked on it, which may
        # then return what looks like a short answer: `expired` tells it from a real one.
        expired = threading.Event()
        deadline = threading.Timer(timeout, abort, args=(connection, expired))
        deadline.start()
        try:
            connection.request("POST", destination.target, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(max_bytes)
            if expired.is_set():
                raise TimeoutError
            return Answer(response.status, excerpt)
        except ConnectionRefusedError as refused:
            error = refused  # the next address may listen
        except OSError as failed:
            if isinstance(failed, TimeoutError) or expired.is_set():
                raise TimeoutError(f"no answer within {timeout:g} s") from None
            raise
        except http.client.HTTPException as malformed:
            if expired.is_set():
                raise TimeoutError(f"no answer within {timeout:g} s") from None
            raise OSError(f"not an HTTP answer ({type(malformed).__name__})") from None
        finally:
            deadline.cancel()
            connection.close()
    raise error


def abort(connection: PinnedConnection, expired: threading.Event) -> None:
    expired.set()  # before the socket is shut: a read it wakes sees it
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
