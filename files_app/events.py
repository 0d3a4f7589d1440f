"""Publishing file state changes to the channel layer, and reading them back.

A message carries the file's whole public state and its `version`, so a subscriber can
render it without a database query and drop anything not newer than what it already sent.
Values are msgpack-safe (str/int/float/None only).
"""

import asyncio
import logging
import os
import threading
import uuid
from datetime import datetime

from channels.layers import get_channel_layer

from .models import File

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "file.update"
# Staff see every file, so their subscriptions listen to a group that gets every event.
ALL_FILES_GROUP = "files.all"
PUBLIC_FIELDS = (
    "name", "size", "content_type", "kind", "sha256", "status", "progress", "error",
    "version", "owner_id", "result",
)
DATETIME_FIELDS = ("uploaded_at", "processed_at")
PUBLISH_TIMEOUT_SECONDS = 5


def owner_group(user_id: int) -> str:
    return f"files.owner.{user_id}"


def groups_for_viewer(user) -> list[str]:
    return [ALL_FILES_GROUP] if user.is_staff else [owner_group(user.pk)]


def file_state(file: File) -> dict:
    state = {field: getattr(file, field) for field in PUBLIC_FIELDS}
    state["id"] = str(file.pk)
    state["thumbnail"] = file.thumbnail.name or ""
    for field in DATETIME_FIELDS:
        value = getattr(file, field)
        state[field] = value.isoformat() if value else None
    return state


def file_from_state(state: dict) -> File:
    """An unsaved File built from a message: enough for the GraphQL type, no query."""
    values = {field: state[field] for field in PUBLIC_FIELDS}
    for field in DATETIME_FIELDS:
        values[field] = datetime.fromisoformat(state[field]) if state[field] else None
    return File(id=uuid.UUID(state["id"]), thumbnail=state["thumbnail"], **values)


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


def publish_file_update(file: File) -> None:
    """Best effort: a broken channel layer must not fail the upload or the processing.

    Subscribers read the current state when they (re)subscribe, so a lost event is repaired
    by the next one or by reconnecting.
    """
    message = {"type": MESSAGE_TYPE, "file": file_state(file)}
    try:
        publisher.run(send_to_groups((owner_group(file.owner_id), ALL_FILES_GROUP), message))
    except Exception:
        logger.exception("Could not publish the update of file %s", file.pk)
