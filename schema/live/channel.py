"""The live channel: file updates carried over the Channels layer (Redis) to websockets.

Group names and the message type are the edge's: the live hub (schema/live/hub.py) joins the
groups and reads the messages, and `publish` (the domain's FILE_EVENTS_PUBLISHER) sends them,
from the web process and from workers alike.
"""

import asyncio
import os
import threading

from channels.layers import get_channel_layer

from files_app import selectors

MESSAGE_TYPE = "file.update"
# Staff see every file, so their subscriptions listen to a group that gets every event.
ALL_FILES_GROUP = "files.all"
PUBLISH_TIMEOUT_SECONDS = 5
# Memberships are refreshed this many times per group expiry, so one missed refresh (Redis
# briefly away) does not yet cost a subscriber its events. The same margin for the count of
# a user's connections, refreshed at each revalidation.
REFRESHES_PER_GROUP_EXPIRY = 3


def owner_group(user_id: int) -> str:
    return f"files.owner.{user_id}"


def groups_for_viewer(user) -> list[str]:
    """Where a viewer's events come from (blocking: the rights may need the database). One
    who sees everyone's files joins their own group too, so losing that right only means
    leaving the all-files group (the copies of their own files' events are dropped by the
    subscription's version check)."""
    own = [owner_group(user.pk)]
    return [ALL_FILES_GROUP, *own] if selectors.sees_all_files(user) else own


def reaches(groups, state: dict) -> bool:
    """Whether an event about the file in `state` is meant for a viewer of `groups`."""
    return ALL_FILES_GROUP in groups or owner_group(state["owner_id"]) in groups


class PublisherLoop:
    """One event loop per process, in a daemon thread, for publishing from sync code where the
    layer cannot send from the calling thread (sharded: schema/live/layer.py).

    `async_to_sync` from a thread with no outer loop (a Celery worker) makes a new loop per
    call, and with it a new Redis connection: a long-lived loop keeps one pool open. The pid
    check starts a fresh loop in a forked child (threads don't survive fork).
    """

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = None
        self.lock = threading.Lock()

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(
                    target=self.loop.run_forever, daemon=True, name="channel-layer-publisher"
                ).start()
            return self.loop

    def run(self, coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.get())
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


publisher = PublisherLoop()


async def send_to_groups(groups, message) -> None:
    """All the groups in one Redis round trip (the project's layer: schema/live/layer.py)."""
    await get_channel_layer().group_send_many(groups, message)


def publish(state: dict) -> None:
    """Send a file's public state to its owner's group and to staff (blocking, bounded): from
    the calling thread where the layer can (one Redis), else through the publisher loop."""
    message = {"type": MESSAGE_TYPE, "file": state}
    groups = (owner_group(state["owner_id"]), ALL_FILES_GROUP)
    layer = get_channel_layer()
    if layer.sends_blocking():
        layer.group_send_many_blocking(groups, message, timeout=PUBLISH_TIMEOUT_SECONDS)
    else:
        publisher.run(send_to_groups(groups, message))
