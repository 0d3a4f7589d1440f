"""Open websockets checked again every `WEBSOCKET_REVALIDATE_SECONDS`, all of a web process's
at once.

A check per connection, in a task of its own, would cost a token query (and Django's
connection check) and a Redis pipeline per connection per period: about 64 % of a core at
10,000 idle connections, and one more task each (docs/live-connection-cost.md). One loop per
process checks every connection of that moment in one pass: the bearer tokens in one query
(`selectors.api_token_users`), each distinct session and each distinct user's rights once,
then the counts of all of them in one Redis pipeline. A connection whose token was deleted
or expired, whose session was logged out or whose user was deactivated is closed with 4401;
one that lost the right to see everyone's files leaves that group (schema/live/hub.py
`Hub.narrow`).
"""

import asyncio
import logging
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings

from ..auth import session_user, users_for_bearer_headers
from . import channel, connections, hub
from .loops import loop_local

logger = logging.getLogger(__name__)

UNAUTHORIZED = 4401


def credentials_now(consumers) -> list[tuple[object, tuple[str, ...]] | None]:
    """(user, viewer groups) for each consumer as its credentials say now, or None
    (blocking: the database)."""
    by_header = users_for_bearer_headers(
        {consumer.bearer_header for consumer in consumers if consumer.bearer_header is not None}
    )
    sessions: dict[str, object] = {}
    users = []
    for consumer in consumers:
        if consumer.bearer_header is not None:
            users.append(by_header.get(consumer.bearer_header))
            continue
        key = consumer.session()
        if key not in sessions:
            sessions[key] = session_user(
                SimpleNamespace(COOKIES={settings.SESSION_COOKIE_NAME: key} if key else {})
            )
        users.append(sessions[key])
    rights: dict[int, tuple[str, ...]] = {}
    found = []
    for user in users:
        if user is None or not user.is_authenticated:
            found.append(None)
            continue
        if user.pk not in rights:
            rights[user.pk] = tuple(channel.groups_for_viewer(user))
        found.append((user, rights[user.pk]))
    return found


class Revalidation:
    """The process's open websockets, and the one loop that checks them."""

    def __init__(self):
        self.consumers: set = set()
        self.task: asyncio.Task | None = None
        self.closing: set[asyncio.Task] = set()

    def add(self, consumer) -> None:
        self.consumers.add(consumer)
        if self.task is None:
            self.task = asyncio.create_task(self.check_forever())

    def discard(self, consumer) -> None:
        self.consumers.discard(consumer)

    async def check_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.WEBSOCKET_REVALIDATE_SECONDS)
            try:
                await self.check(list(self.consumers))
            except Exception:  # the database or Redis away: the next round checks again
                logger.warning("Could not revalidate the websockets", exc_info=True)

    async def check(self, consumers) -> None:
        found = await database_sync_to_async(credentials_now)(consumers)
        kept = []
        for consumer, now in zip(consumers, found, strict=True):
            if consumer not in self.consumers:
                continue  # it closed meanwhile
            if now is None or now[0].pk != consumer.scope["user"].pk:
                self.discard(consumer)
                self.close(consumer)
                continue
            consumer.scope["user"], consumer.viewer_groups = now
            await hub.get().narrow(consumer, consumer.viewer_groups)
            kept.append(consumer)
        await connections.refresh_all(
            consumer.connections for consumer in kept if consumer.connections is not None
        )

    def close(self, consumer) -> None:
        """Close in a task of its own: a client that does not read may keep its close
        frame waiting, and the others' checks must not wait for it."""
        task = asyncio.create_task(consumer.close(code=UNAUTHORIZED, reason="Unauthorized"))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)


def revalidation() -> Revalidation:
    """This process's revalidation."""
    return loop_local(Revalidation)
