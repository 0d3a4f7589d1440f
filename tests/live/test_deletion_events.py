"""Deletions are events: `fileUpdates` ends a deleted file's story with `deleted: true`, over
real websockets on the session's server, to everyone who could see the file and no one else.

Files are made as rows (no upload, no processing: what is tested is the deletion)."""

import asyncio
import threading
from contextlib import aclosing
from types import SimpleNamespace

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.test import override_settings

from files_app import events, services
from files_app.services.processing import transition
from schema.graphql.ids import encode_file_id
from schema.live.subscriber import Subscriber
from tests.support.files import make_done_file
from tests.support.operations import FILE_FIELDS
from tests.support.processes import wait_until
from tests.support.users import grant_every_file_right
from tests.support.wsclient import Subscription, group_scores, renewed

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE = f"subscription($ids: [ID!]) {{ fileUpdates(ids: $ids) {{ {FILE_FIELDS} deleted }} }}"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


async def delete(server, token, file_id: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{server.url}/graphql/",
            headers={"Authorization": f"Bearer {token}"},
            json={"query": DELETE, "variables": {"id": file_id}},
        )
    assert response.json() == {"data": {"deleteFile": file_id}}, response.text


async def watch(server, token, *, group_of=None, variables=None) -> Subscription:
    """A subscription, returned once its groups are joined: the owner's (group_of a user),
    or the all-files group (staff)."""
    subscription = await Subscription.open(server.ws_url, token=token)
    before = await group_scores(group_of)
    await subscription.subscribe(SUBSCRIBE, variables)
    async with asyncio.timeout(10):
        while not renewed(before, await group_scores(group_of)):
            await asyncio.sleep(0.01)
    return subscription


async def test_a_deletion_reaches_the_owner_and_staff_and_no_one_else(
    uvicorn_server, user, token, other_user, other_token, staff_user, staff_token
):
    await sync_to_async(grant_every_file_right)(staff_user)
    file = await sync_to_async(make_done_file)(user, "gone.txt")
    bobs = await sync_to_async(make_done_file)(other_user, "bobs.txt")
    file_id, bobs_id = encode_file_id(file.pk), encode_file_id(bobs.pk)
    owner = await watch(uvicorn_server, token, group_of=user)
    by_id = await watch(uvicorn_server, token, group_of=user, variables={"ids": [file_id]})
    assert (await by_id.next_file())["version"] == 4  # the current state comes first
    staff = await watch(uvicorn_server, staff_token)
    other = await watch(uvicorn_server, other_token, group_of=other_user)

    await delete(uvicorn_server, token, file_id)
    await delete(uvicorn_server, other_token, bobs_id)  # the other user's own, as a marker

    for subscription in (owner, by_id, staff):
        last = await subscription.next_file()
        assert last["id"] == file_id and last["deleted"] is True, last
        # The final state, as it was, one version newer than the row's last.
        assert (last["name"], last["status"], last["version"]) == ("gone.txt", "DONE", 5)
    # Bob's first event is his own file's deletion: Alice's never reached him.
    assert (await other.next_file())["id"] == bobs_id
    assert [(await staff.next_file())["id"]] == [bobs_id]  # staff see every deletion
    for subscription in (owner, by_id, staff, other):
        await subscription.close()


@pytest.fixture
def recorded():
    """The events this process publishes, kept in RECORDED instead of sent. The cached
    publisher is cleared once the setting is back: cleared while it still named `record`, a
    late publish (from a thread a failed test left running) cached `record` for the rest of
    the run, and every later event of the test process vanished (test_processing's
    reprocess lost its PENDING that way)."""
    RECORDED.clear()
    events.publisher.cache_clear()
    with override_settings(FILE_EVENTS_PUBLISHER="tests.live.test_deletion_events.record"):
        yield RECORDED
    events.publisher.cache_clear()


def test_a_deletion_is_newer_than_a_change_committed_while_it_waited(user, recorded):
    """A worker's change in flight when the file is deleted: the deletion waits for it (the
    row lock; SQLite's one write lock), so its event's version is newer than the change's,
    and never equal (equal versions are dropped as stale: subscribers would keep the file)."""
    file = make_done_file(user, "racing.txt")
    changed, release, asked = threading.Event(), threading.Event(), threading.Event()

    def worker_change():
        try:
            with transaction.atomic():
                transition(file.pk, progress=0.5)
                changed.set()
                release.wait(10)
        finally:
            connection.close()

    def delete_file():
        try:
            with connection.execute_wrapper(asking_for_the_lock(asked)):
                services.file_delete(user=user, file_id=file.pk)
        finally:
            connection.close()

    worker, deletion = threading.Thread(target=worker_change), threading.Thread(target=delete_file)
    try:
        worker.start()
        assert changed.wait(10)
        deletion.start()
        waiting = "the deletion to wait for the change"
        wait_until(lambda: waiting_for_a_lock(asked), timeout=10, what=waiting)
    finally:
        release.set()
        for thread in (worker, deletion):  # none outlives the test
            if thread.ident is not None:
                thread.join(10)
    assert [(state["version"], state["deleted"]) for state in recorded] == [(5, False), (6, True)]


RECORDED: list[dict] = []


def record(state: dict) -> None:
    """A FILE_EVENTS_PUBLISHER that keeps what it is given."""
    RECORDED.append(state)


def asking_for_the_lock(asked: threading.Event):
    """An execute wrapper that says when the deletion asks for the lock the change holds:
    the row's (SELECT … FOR UPDATE) on PostgreSQL, the database's (BEGIN IMMEDIATE) on
    SQLite."""

    def wrapper(execute, sql, params, many, context):
        if "FOR UPDATE" in sql or sql.startswith("BEGIN"):
            asked.set()
        return execute(sql, params, many, context)

    return wrapper


def waiting_for_a_lock(asked: threading.Event) -> bool:
    """PostgreSQL shows the deletion waiting. SQLite shows no one waiting, but it has one
    write lock, which the change holds: once the deletion has asked for it, it waits (for up
    to the busy timeout, project/settings/database.py)."""
    if connection.vendor != "postgresql":
        return asked.is_set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


async def test_a_deletion_waiting_in_the_outbox_is_never_replaced():
    """A slow client's outbox merges events of one file and status, the newest winning: a
    stale event of the deleted file's last status arriving late (the hub remembers only the
    last DISPATCHED_MEMORY files) must not take the deletion's place."""
    # A connection that is nothing but itself; under graphql-ws every event is queued.
    subscriber = Subscriber(consumer=SimpleNamespace(), operation=None, wanted=None)
    state = {"id": "f", "status": "DONE", "version": 6, "deleted": True}
    subscriber.offer(state, "deleted")
    subscriber.offer({**state, "version": 5, "deleted": False}, "stale")
    async with asyncio.timeout(5), aclosing(subscriber.items()) as items:
        assert await anext(items) == "deleted"
