"""`fileUpdates`: the current state of the listed files, then every change, live.

How they are delivered (the groups joined before the current state is read, stale versions
dropped, one execution per class of subscribers) is the connection's business: the resolver
checks who asks and for which files, and takes the updates from the websocket consumer
(`file_updates`, schema/live/websocket.py), so the schema knows nothing of the runtime that
serves it. The live hub executes one subscriber's document once for a whole class of them,
with the event as root value (`OneEvent`): then the resolver yields that file and ends.
"""

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import strawberry
from strawberry.utils.aio import aclosing
from strawberry_django.auth.utils import aget_current_user

from files_app import selectors

from .ids import decode_file_id
from .types import FileType


@dataclass(frozen=True)
class OneEvent:
    """The root value of a class's execution: `fileUpdates` yields this file and ends."""

    file: object


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Changes to your files (staff with the view_file permission: everyone's). With "
            "`ids`, the current state of each listed file comes first, then its changes only. "
            "A deleted file's last event is its final state with `deleted: true`."
        )
    )
    async def file_updates(
        self, info: strawberry.Info, ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[FileType, None]:
        if isinstance(info.root_value, OneEvent):  # a class's one execution
            yield info.root_value.file
            return
        user = selectors.require_user(await aget_current_user(info))
        wanted = {decode_file_id(raw_id) for raw_id in ids} if ids is not None else None
        # Closed with the subscription, so its groups are left at once, not when collected.
        updates = info.context["ws"].file_updates(user=user, wanted=wanted)
        async with aclosing(updates):
            async for file in updates:
                yield file
