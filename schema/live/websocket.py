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

import logging
import uuid
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
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
from . import channel, hub
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
    graphql_transport_ws_handler_class = hub.TransportWSHandler
    unauthenticated = False
    unauthorized_reason = "Unauthorized"  # the close frame's reason: what a client shows
    too_many = False
    bearer_header: str | None = None
    # The groups the viewer's events may come from, as of the last check.
    viewer_groups: tuple[str, ...] = ()
    connections: UserConnections | None = None
    counted = False  # in the open-websockets gauge (/metrics)
    # No channel-layer channel of its own: live events come through the process's hub
    # (schema/live/hub.py), and a channel per connection cost three tasks and a receive
    # buffer each (docs/live-connection-cost.md). No layer has this alias.
    channel_layer_alias = "none: events come through the live hub"

    async def connect(self) -> None:
        if not host_allowed(self.scope):
            logger.warning("Refused a websocket handshake for an unknown Host header")
            await self.close()  # before accepting: the handshake is answered 403
            return
        await super().connect()

    async def close(self, code=None, reason=None):
        if code == FORBIDDEN and self.unauthenticated:
            code, reason = UNAUTHORIZED, self.unauthorized_reason
        elif code == FORBIDDEN and self.too_many:
            code, reason = TOO_MANY_CONNECTIONS, "Too many connections for this user"
        await super().close(code=code, reason=reason)

    def authenticate(self):
        """(user, viewer groups) as the connection's credentials say now, or None (blocking).
        A token must still exist and be valid (the same check as HTTP requests); a session
        must still exist and carry the user's current auth hash (Django's `get_user`: a
        logout deletes it, a password change invalidates it); the user must be active."""
        if self.bearer_header is not None:
            user = user_for_bearer_header(self.bearer_header)
        else:
            user = session_user(SimpleNamespace(COOKIES=self.scope.get("cookies", {})))
        if user is None or not user.is_authenticated:
            return None
        return user, tuple(channel.groups_for_viewer(user))

    async def on_ws_connect(self, context):
        params = context.get("connection_params") or {}
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
        return hub.file_updates(user=user, consumer=self, wanted=wanted)

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
        if self.run_task is not None:  # None: the handshake was refused
            await super().disconnect(code)
        if self.connections is not None and not self.too_many:
            self.connections.remove()


def graphql_ws_consumer(schema):
    return AuthenticatedGraphQLWSConsumer.as_asgi(
        schema=schema,
        allowed_origins=settings.WEBSOCKET_ALLOWED_ORIGINS,
        max_subscriptions_per_connection=settings.GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
