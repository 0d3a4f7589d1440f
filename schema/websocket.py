"""The GraphQL websocket endpoint (graphql-transport-ws), authenticated.

A browser is authenticated by its session cookie (Channels' AuthMiddlewareStack) and must
come from our own origin or one in `WEBSOCKET_ALLOWED_ORIGINS`; Strawberry refuses other
browser origins at the handshake. Any other client (no `Origin` header) sends
`{"Authorization": "Bearer <token>"}` as the `connection_init` payload. A connection that
is neither is closed with 4401 Unauthorized, which graphql-ws clients treat as final (they
retry 4403 Forbidden, Strawberry's code for a rejected `connection_init`).
"""

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from . import live
from .auth import user_for_bearer_header

logger = logging.getLogger(__name__)

AUTH_PARAM_NAMES = ("Authorization", "authorization")
UNAUTHORIZED = 4401
FORBIDDEN = 4403
# Memberships are refreshed this many times per group expiry, so one missed refresh (Redis
# briefly away) does not yet cost a subscriber its events.
REFRESHES_PER_GROUP_EXPIRY = 3


class AuthenticatedGraphQLWSConsumer(GraphQLWSConsumer):
    unauthenticated = False
    membership_refresher: asyncio.Task | None = None

    async def close(self, code=None, reason=None):
        if code == FORBIDDEN and self.unauthenticated:
            code, reason = UNAUTHORIZED, "Unauthorized"
        await super().close(code=code, reason=reason)

    async def on_ws_connect(self, context):
        params = context.get("connection_params") or {}
        header = next((params[name] for name in AUTH_PARAM_NAMES if name in params), None)
        if header is not None:
            user = await database_sync_to_async(user_for_bearer_header)(
                header if isinstance(header, str) else None
            )
            if user is None:
                self.unauthenticated = True
                raise ConnectionRejectionError({"message": "Invalid bearer token."})
            self.scope["user"] = user
        elif not getattr(self.scope.get("user"), "is_authenticated", False):
            self.unauthenticated = True
            raise ConnectionRejectionError({"message": "Authentication required."})
        self.membership_refresher = asyncio.create_task(self.refresh_memberships())
        return UNSET

    async def refresh_memberships(self) -> None:
        """Join our groups again now and then: channels-redis drops a membership older than
        its group expiry, and a subscription open longer than that would silently stop
        receiving events. (Strawberry joins once, when the subscription starts; it keeps the
        groups it joined, with their reference counts, in `_group_refs`.)"""
        interval = settings.CHANNEL_LAYER_GROUP_EXPIRY / REFRESHES_PER_GROUP_EXPIRY
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._group_lock:
                    for group in list(self._group_refs):
                        await self.channel_layer.group_add(group, self.channel_name)
            except Exception:  # Redis away: the next round tries again
                logger.warning("Could not refresh websocket group memberships", exc_info=True)

    async def disconnect(self, code: int) -> None:
        """Leave every group this connection may have joined, whatever state its
        subscriptions were in: a subscription cancelled while its group_add was in flight
        never records the join, and its membership would otherwise linger in Redis until
        the group expiry (a day). Found by tests/reliability/test_no_leaks.py."""
        if self.membership_refresher is not None:
            self.membership_refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.membership_refresher
        await super().disconnect(code)
        user = self.scope.get("user")
        if self.channel_layer is not None and getattr(user, "is_authenticated", False):
            for group in (live.owner_group(user.pk), live.ALL_FILES_GROUP):
                await self.channel_layer.group_discard(group, self.channel_name)


def graphql_ws_consumer(schema):
    return AuthenticatedGraphQLWSConsumer.as_asgi(
        schema=schema,
        allowed_origins=settings.WEBSOCKET_ALLOWED_ORIGINS,
        max_subscriptions_per_connection=settings.GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
