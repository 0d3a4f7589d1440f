"""`fileUpdates`: the current state of the listed files, then every change, live.

The subscriber joins the viewer's channel-layer groups (through the process's live hub,
schema/fanout.py) *before* reading the current state, so an update committed in between is
not lost; it may arrive twice instead, and the version check drops the copy (and anything
older than what was already sent). The groups are the connection's `viewer_groups`, which
it checks again every WEBSOCKET_REVALIDATE_SECONDS (schema/websocket.py); each event is
checked against them as it goes out.

Live events are not yielded to Strawberry one subscriber at a time: the hub executes the
selection once per class of subscribers and writes the shared payload to each subscriber's
socket (schema/subscriber.py); this operation's task only holds the subscription until it
ends. Only under the older graphql-ws protocol are they yielded here.
"""

from collections.abc import AsyncGenerator

import strawberry
from channels.db import database_sync_to_async
from strawberry_django.auth.utils import aget_current_user

from files_app import events, selectors

from . import fanout
from .ids import decode_file_id
from .types import FileType


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
        if isinstance(info.root_value, fanout.OneEvent):  # a class's one execution
            yield info.root_value.file
            return
        user = selectors.require_user(await aget_current_user(info))
        wanted = {decode_file_id(raw_id) for raw_id in ids} if ids is not None else None
        subscriber = fanout.Subscriber(
            info.context["ws"], fanout.current_operation.get(),
            {str(file_id) for file_id in wanted} if wanted is not None else None)
        async with fanout.hub().subscribed(subscriber):
            if wanted:
                current = await database_sync_to_async(selectors.file_get_many)(
                    user=user, file_ids=wanted
                )
                for file in current:
                    subscriber.mark_sent(str(file.pk), file.version)
                    yield file
            if subscriber.operation is not None:
                await subscriber.until_ended()
                return
            async for state in subscriber.items():
                yield events.file_from_state(state)
