"""The live channel: file updates carried over the Channels layer (Redis) to websockets.

Group names and the message type are the edge's: the websocket consumer joins the groups,
the `fileUpdates` subscription reads the messages, and `publish` (the domain's
FILE_EVENTS_PUBLISHER) sends them, from the web process and from workers alike.
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


def owner_group(user_id: int) -> str:
    return f"files.owner.{user_id}"


def groups_for_viewer(user) -> list[str]:
    return [ALL_FILES_GROUP] if selectors.sees_all_files(user) else [owner_group(user.pk)]


class PublisherLoop:
    """One event loop per process, in a daemon thread, for publishing from sync code.

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
                threading.Thread(target=self.loop.run_forever, daemon=True,
                                 name="channel-layer-publisher").start()
            return self.loop

    def run(self, coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.get())
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


publisher = PublisherLoop()


async def send_to_groups(groups, message) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


def publish(state: dict) -> None:
    """Send a file's public state to its owner's group and to staff (blocking, bounded)."""
    message = {"type": MESSAGE_TYPE, "file": state}
    publisher.run(send_to_groups((owner_group(state["owner_id"]), ALL_FILES_GROUP), message))
