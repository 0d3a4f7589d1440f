"""The GraphQL websocket endpoint (graphql-transport-ws), authenticated, and kept so.

The handshake's `Host` header must be one of `ALLOWED_HOSTS` (Django's own check), and a
browser must come from our own origin or one in `WEBSOCKET_ALLOWED_ORIGINS` (Strawberry
refuses other browser origins); either refusal answers the handshake with 403. A browser is
authenticated by its session cookie; any other client (no `Origin` header) sends
`{"Authorization": "Bearer <token>"}` as the `connection_init` payload (another scheme is
closed with 4401 and a reason naming `Bearer`). A connection that is neither is closed with
4401 Unauthorized, which graphql-ws clients treat as final (they
retry 4403 Forbidden, Strawberry's code for a rejected `connection_init`).

Open connections are checked again every `WEBSOCKET_REVALIDATE_SECONDS`, all of the
process's at once (schema/live/revalidation.py), the way each authenticated: after a logout, a
deleted or expired token or a deactivated user it is closed with 4401; a viewer who lost the
right to see everyone's files keeps the connection but only their own files' events.
A user holds at most `WEBSOCKET_MAX_CONNECTIONS_PER_USER`
connections across web processes; one more is closed with 4429, also final for graphql-ws.
"""

import json
import logging
import uuid
from types import SimpleNamespace

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from ..auth import (
    BEARER_SCHEME,
    WRONG_SCHEME,
    is_other_scheme,
    session_user,
    user_for_bearer_header,
)
from ..errors import answer_too_large
from ..graphql import answers
from ..observability import WEBSOCKETS
from . import channel, transport, updates
from .connections import UserConnections
from .revalidation import UNAUTHORIZED, revalidation

logger = logging.getLogger(__name__)

AUTH_PARAM_NAMES = ("Authorization", "authorization")
FORBIDDEN = 4403
# A close reason is at most 123 bytes; graphql-ws hands it to the client's error handler.
WRONG_SCHEME_REASON = "Unauthorized: the Authorization scheme must be Bearer (Bearer <token>)"
# graphql-ws's "Too many initialisation requests": a code its clients never retry.
TOO_MANY_CONNECTIONS = 4429
# Django's hosts when DEBUG is on and ALLOWED_HOSTS is empty (HttpRequest.get_host).
DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


def host_allowed(scope) -> bool:
    """Django's check of the `Host` header (HttpRequest.get_host), for a handshake."""
    host = dict(scope.get("headers", ())).get(b"host", b"").decode("latin1")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (DEBUG_HOSTS if settings.DEBUG else [])
    return bool(domain) and validate_host(domain, allowed)


class AuthenticatedGraphQLWSConsumer(GraphQLWSConsumer):
    """Strawberry's consumer, run without a task of its own per connection: Channels would
    read the socket in a helper task (`await_many_dispatch`) and Strawberry would run its
    protocol handler in another (`run`), fed through a queue. Here the ASGI application's
    own task reads each frame and hands it to Strawberry's handler (`receive`); a
    subscription the live hub serves holds no task either (transport.TransportWSHandler), so an
    idle connection is uvicorn's one task (docs/live-connection-cost.md)."""

    graphql_transport_ws_handler_class = transport.TransportWSHandler
    handler = None  # the subprotocol's handler, once the handshake is accepted
    closed = False  # by the server
    unauthenticated = False
    unauthorized_reason = "Unauthorized"  # the close frame's reason: what a client shows
    too_many = False
    bearer_header: str | None = None
    session_key: str | None = None  # the handshake's session cookie, once read
    # The groups the viewer's events may come from, as of the last check.
    viewer_groups: tuple[str, ...] = ()
    connections: UserConnections | None = None
    counted = False  # in the open-websockets gauge (/metrics)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Strawberry's per-connection queue and channel listening, unused here: let go.
        self.message_queue = self.listen_queues = self._group_refs = self._group_lock = None

    async def __call__(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer, with no channel layer (live events come through the
        process's hub, schema/live/hub.py) and no helper task: one `receive` at a time."""
        self.scope, self.base_send, self.channel_layer = scope, send, None
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message) -> None:
        await AsyncConsumer.dispatch(self, message)

    async def connect(self) -> None:
        """What Strawberry's `run` does before it reads: the Host and origin checks (a
        refusal answers the handshake with 403), the subprotocol, the handler."""
        if not host_allowed(self.scope):
            logger.warning("Refused a websocket handshake for an unknown Host header")
            await self.close()  # before accepting: the handshake is answered 403
            return
        if not self._check_websocket_origin(self):
            await self.close()
            return
        subprotocol = await self.pick_websocket_subprotocol(self)
        await self.accept(subprotocol=subprotocol)
        options = {
            "view": self,
            "websocket": self.websocket_adapter_class(self, self, self),
            "context": await self.get_context(self, response=self),
            "root_value": None,
            "schema": self.schema,
            "max_subscriptions_per_connection": self.max_subscriptions_per_connection,
        }
        if subprotocol == GRAPHQL_TRANSPORT_WS_PROTOCOL:
            self.handler = self.graphql_transport_ws_handler_class(
                **options, connection_init_wait_timeout=self.connection_init_wait_timeout
            )
            self.handler.on_request_accepted()  # the connection_init timeout
        elif subprotocol == GRAPHQL_WS_PROTOCOL:
            self.handler = self.graphql_ws_handler_class(
                **options, keep_alive=False, keep_alive_interval=None
            )
        else:
            await self.close(code=4406, reason="Subprotocol not acceptable")

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """One frame to the handler, as Strawberry's `handle` loop would give it; none once
        the server has closed the socket (its handler's operations end at the disconnect)."""
        if self.handler is None or self.closed:
            return
        is_transport = isinstance(self.handler, transport.TransportWSHandler)
        if not text_data:
            if is_transport:
                await self.handler.handle_invalid_message("WebSocket message type must be text")
            else:
                await self.close(code=1002, reason="WebSocket message type must be text")
            return
        try:
            message = self.decode_json(text_data)
        except json.JSONDecodeError:
            if is_transport:
                await self.handler.handle_invalid_message("WebSocket message must be valid JSON")
            return  # graphql-ws ignores it
        if not isinstance(message, dict):
            if is_transport:
                await self.handler.handle_invalid_message("Failed to parse message")
            return
        await self.handler.handle_message(message)

    async def close(self, code=None, reason=None):
        self.closed = True
        if code == FORBIDDEN and self.unauthenticated:
            code, reason = UNAUTHORIZED, self.unauthorized_reason
        elif code == FORBIDDEN and self.too_many:
            code, reason = TOO_MANY_CONNECTIONS, "Too many connections for this user"
        await super().close(code=code, reason=reason)

    def session(self) -> str:
        """The handshake's session cookie ('' without one), read from its headers here:
        Channels' CookieMiddleware would keep a copy of the scope per connection."""
        if self.session_key is None:
            header = dict(self.scope.get("headers", ())).get(b"cookie", b"").decode("latin1")
            self.session_key = parse_cookie(header).get(settings.SESSION_COOKIE_NAME, "")
        return self.session_key

    def authenticate(self):
        """(user, viewer groups) as the connection's credentials say now, or None (blocking).
        A token must still exist and be valid (the same check as HTTP requests); a session
        must still exist and carry the user's current auth hash (Django's `get_user`: a
        logout deletes it, a password change invalidates it); the user must be active."""
        if self.bearer_header is not None:
            user = user_for_bearer_header(self.bearer_header)
        else:
            key = self.session()
            cookies = {settings.SESSION_COOKIE_NAME: key} if key else {}
            user = session_user(SimpleNamespace(COOKIES=cookies))
        if user is None or not user.is_authenticated:
            return None
        return user, tuple(channel.groups_for_viewer(user))

    async def on_ws_connect(self, context):
        # Read once, here: kept in the context, it would be held for the connection's life.
        params = context.pop("connection_params", None) or {}
        header = next((params[name] for name in AUTH_PARAM_NAMES if name in params), None)
        if header is not None:
            self.bearer_header = header if isinstance(header, str) else ""
        if is_other_scheme(self.bearer_header, allowed=(BEARER_SCHEME,)):
            self.unauthenticated, self.unauthorized_reason = True, WRONG_SCHEME_REASON
            raise ConnectionRejectionError({"message": WRONG_SCHEME})
        found = await database_sync_to_async(self.authenticate)()
        if found is None:
            self.unauthenticated = True
            raise ConnectionRejectionError(
                {
                    "message": "Invalid bearer token."
                    if header is not None
                    else "Authentication required."
                }
            )
        self.scope["user"], self.viewer_groups = found
        if not await self.count_connection():
            self.too_many = True
            raise ConnectionRejectionError({"message": "Too many open connections."})
        revalidation().add(self)
        self.counted = True
        WEBSOCKETS.inc()
        return UNSET

    def file_updates(self, *, user, wanted: set | None):
        """One `fileUpdates` subscription of this connection (schema/graphql/subscriptions.py),
        delivered through the process's live hub."""
        return updates.file_updates(user=user, consumer=self, wanted=wanted)

    def encode_json(self, data) -> str:
        """Every message Strawberry sends (a subscription's first results among them) within
        the answer budget, as UTF-8 JSON like the hub's; a `next` over it carries one
        ANSWER_TOO_LARGE error instead of its data, and the subscription goes on."""
        try:
            return answers.encode(data).decode()
        except answers.AnswerTooLarge as error:
            if not (isinstance(data, dict) and data.get("type") == "next"):
                raise
            return answers.encode({**data, "payload": answer_too_large(error)}).decode()

    def connection_ttl(self) -> float:
        return settings.WEBSOCKET_REVALIDATE_SECONDS * channel.REFRESHES_PER_GROUP_EXPIRY

    async def count_connection(self) -> bool:
        """Whether the user may open one more connection. Counted in Redis, not in this
        process, so the cap holds however many web processes there are. Redis away: let it
        in uncounted (nothing live works then anyway); the next refresh counts it."""
        self.connections = UserConnections(
            get_channel_layer(), self.scope["user"].pk, uuid.uuid4().hex, self.connection_ttl()
        )
        try:
            return await self.connections.add(settings.WEBSOCKET_MAX_CONNECTIONS_PER_USER)
        except Exception:
            logger.warning("Could not count websocket connections", exc_info=True)
            return True

    async def disconnect(self, code: int) -> None:
        """Stop checking this connection, end every subscription (each leaves the live hub
        as it ends, see schema/live/hub.py), and stop counting the connection."""
        revalidation().discard(self)
        if self.counted:
            WEBSOCKETS.dec()
            self.counted = False
        handler, self.handler = self.handler, None
        if isinstance(handler, transport.TransportWSHandler):
            await handler.shutdown()  # ends every subscription
        elif handler is not None:
            await handler.cleanup()
        if self.connections is not None and not self.too_many:
            self.connections.remove()


def graphql_ws_consumer(schema):
    return AuthenticatedGraphQLWSConsumer.as_asgi(
        schema=schema,
        allowed_origins=settings.WEBSOCKET_ALLOWED_ORIGINS,
        max_subscriptions_per_connection=settings.GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
