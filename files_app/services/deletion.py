"""Deleting a file: the row at once, its bytes after commit, its last event to everyone who
could see it, and to its owner's webhooks."""

import uuid

from django.db import transaction

from .. import events, selectors
from ..models import File
from . import webhooks


def file_delete(*, user, file_id) -> uuid.UUID:
    """Delete the row; its bytes and thumbnail follow after commit (see signals.py), and its
    subscribers learn of it (`file_row_delete`). A file deleted meanwhile is gone all the
    same: its id is returned."""
    file_pk = selectors.file_get(user=user, file_id=file_id, to="delete").pk
    with transaction.atomic():
        locked = File.objects.select_for_update().filter(pk=file_pk).first()
        if locked is not None:
            file_row_delete(file=locked)
    return file_pk


def file_row_delete(*, file: File) -> None:
    """Delete a row the caller holds locked, and publish its last event after commit: its
    final state marked `deleted`, one version newer than the row's. The lock makes that the
    newest: a worker's change waits for it, then finds no row (and publishes nothing)."""
    last = events.file_state(file, deleted=True)
    file.delete()
    transaction.on_commit(lambda: events.publish_state(last), robust=True)
    transaction.on_commit(lambda: webhooks.webhook_deliveries_create(state=last), robust=True)
