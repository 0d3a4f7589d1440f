"""`fileUpdates`: the current state of the listed files, then every change, live.

The consumer joins the viewer's channel-layer groups *before* reading the current state, so
an update committed in between is not lost; it may arrive twice instead, and the version
check drops the copy (and anything older than what was already sent). The groups are the
connection's `viewer_groups`, which it checks again every WEBSOCKET_REVALIDATE_SECONDS
(schema/websocket.py); each event is checked against them as it goes out.
"""

from collections.abc import AsyncGenerator

import strawberry
from channels.db import database_sync_to_async
from strawberry_django.auth.utils import aget_current_user

from files_app import events, selectors

from . import live
from .ids import decode_file_id
from .types import FileType


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Changes to your files (staff: everyone's). With `ids`, the current state of "
            "each listed file comes first, then its changes only."
        )
    )
    async def file_updates(
        self, info: strawberry.Info, ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[FileType, None]:
        user = selectors.require_user(await aget_current_user(info))
        wanted = {decode_file_id(raw_id) for raw_id in ids} if ids is not None else None
        consumer = info.context["ws"]
        sent_versions: dict[str, int] = {}
        async with consumer.listen_to_channel(
            live.MESSAGE_TYPE, groups=consumer.viewer_groups
        ) as messages:
            if wanted:
                current = await database_sync_to_async(selectors.file_get_many)(
                    user=user, file_ids=wanted
                )
                for file in current:
                    sent_versions[str(file.pk)] = file.version
                    yield file
            wanted_keys = {str(file_id) for file_id in wanted} if wanted is not None else None
            async for message in messages:
                state = message["file"]
                if wanted_keys is not None and state["id"] not in wanted_keys:
                    continue
                if not live.reaches(consumer.viewer_groups, state):
                    continue  # the viewer lost a right since this was sent
                if state["version"] <= sent_versions.get(state["id"], 0):
                    continue
                sent_versions[state["id"]] = state["version"]
                yield events.file_from_state(state)
