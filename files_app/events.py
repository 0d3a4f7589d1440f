"""A file's public state, and announcing its changes.

The state is what subscribers see: the file's public fields and its `version`, so a
subscriber can render it without a database query and drop anything not newer than what it
already sent. Values are msgpack-safe (str/int/float/None/bool only).

A deletion is an event too, the file's last: its final state, one version newer than the
row's last, with `deleted` set (a tombstone). The row is gone by the time it is delivered,
so the event carries every field a selection may ask for.

How a change travels is the edge's business (the Channels layer, `schema/live/channel.py`): the
domain calls the publisher named by FILE_EVENTS_PUBLISHER and imports no web library.
"""

import functools
import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string

from . import metrics
from .models import File

logger = logging.getLogger(__name__)

PUBLIC_FIELDS = (
    "name",
    "size",
    "content_type",
    "kind",
    "sha256",
    "status",
    "progress",
    "error",
    "failure_code",
    "version",
    "owner_id",
    "result",
)
DATETIME_FIELDS = ("uploaded_at", "processed_at")


def file_state(file: File, *, deleted: bool = False) -> dict:
    state = {field: getattr(file, field) for field in PUBLIC_FIELDS}
    state["id"] = str(file.pk)
    state["deleted"] = deleted
    if deleted:  # newer than any change a worker published before the row was locked
        state["version"] = file.version + 1
    state["thumbnail"] = file.thumbnail.name or ""
    for field in DATETIME_FIELDS:
        value = getattr(file, field)
        state[field] = value.isoformat() if value else None
    return state


def file_from_state(state: dict) -> File:
    """An unsaved File built from a message: enough for the GraphQL type, no query."""
    # A message from a process older than failure codes (a rolling deploy) has none.
    values = {
        field: state[field] if field != "failure_code" else state.get(field, "")
        for field in PUBLIC_FIELDS
    }
    for field in DATETIME_FIELDS:
        values[field] = datetime.fromisoformat(state[field]) if state[field] else None
    file = File(id=uuid.UUID(state["id"]), thumbnail=state["thumbnail"], **values)
    file.deleted = state.get("deleted", False)  # absent from events of an older release
    return file


@functools.cache
def publisher():
    return import_string(settings.FILE_EVENTS_PUBLISHER)


def publish_file_update(file: File) -> None:
    publish_state(file_state(file))


def publish_state(state: dict) -> None:
    """Best effort: a broken channel layer must not fail the upload or the processing.

    Subscribers read the current state when they (re)subscribe, so a lost event is repaired
    by the next one or by reconnecting.
    """
    try:
        publisher()(state)
        metrics.EVENTS_PUBLISHED.inc()
        logger.info(
            "Published: %s%s, version %d",
            state["status"],
            " (deleted)" if state["deleted"] else "",
            state["version"],
            extra={"file_id": state["id"]},
        )
    except Exception:
        logger.exception("Could not publish the update of file %s", state["id"])
