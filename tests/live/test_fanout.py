"""Live fan-out on a real server (schema/live/hub.py): one execution per class of subscribers,
rights never mixed, what a class shares read by no field from the viewer, and a client that
does not read holds up nobody but itself.

Executions are counted from the server's own log (one DEBUG line per execution, with how
many subscribers it served); slow clients are bare sockets with a small receive buffer that
the test does not read (tests/wsclient.py: StalledSubscription)."""

import asyncio
import contextlib
import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg2
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from graphql import get_named_type, is_leaf_type, is_union_type

from files_app import events, services
from files_app.models import File
from schema.graphql.api import schema
from schema.graphql.ids import decode_file_id, encode_file_id
from schema.live import channel, hub
from tests.support.files import make_done_file
from tests.support.operations import SUBSCRIBE, is_final, upload
from tests.support.processes import Server
from tests.support.users import PASSWORD, grant_every_file_right
from tests.support.wsclient import StalledSubscription, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

OUTBOX_LIMIT = 20
OTHER_DOCUMENT = "subscription { fileUpdates { id status version } }"
EXECUTED = re.compile(r"fileUpdates executed for (\d+) subscribers: file (\S+) version (\d+)")
# Big events fill a slow client's buffers after a few of them.
BIG_NAME = "n" * (512 * 1024)
BIG_EVENTS = 40


@pytest.fixture(scope="module")
def server(django_db_setup, process_logs):
    """A server that logs each execution, and closes a subscriber OUTBOX_LIMIT events
    behind."""
    started = Server(
        "uvicorn",
        process_logs,
        env={"LOG_LEVEL": "DEBUG", "WEBSOCKET_OUTBOX_LIMIT": str(OUTBOX_LIMIT)},
    )
    yield started
    started.stop()


def executions(server, file_id: str) -> dict[int, list[int]]:
    """version -> the subscriber count of each execution of that event, from the log."""
    found: dict[int, list[int]] = {}
    for count, file, version in EXECUTED.findall(server.log.read_text()):
        if file == file_id:
            found.setdefault(int(version), []).append(int(count))
    return {version: sorted(counts) for version, counts in found.items()}


async def watching(server, token, owner, query=SUBSCRIBE) -> Subscription:
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(query, owner=owner)
    return subscription


async def until_final(subscription, file_ids, timeout=30) -> list[dict]:
    """Every event up to the final state of each of `file_ids`."""
    received, waiting = [], set(file_ids)
    async with asyncio.timeout(timeout):
        while waiting:
            received.append(await subscription.next_file())
            if is_final(received[-1]):
                waiting.discard(received[-1]["id"])
    return received


async def test_subscribers_with_the_same_document_share_one_execution(
    server, celery_worker, user, token
):
    same = [await watching(server, token, user) for _ in range(2)]
    other = await watching(server, token, user, OTHER_DOCUMENT)
    file_id = str(decode_file_id((await upload(server, token, "a.txt", b"shared"))["id"]))
    received = [await watcher.files_until(is_final, timeout=30) for watcher in [*same, other]]
    for watcher in [*same, other]:
        await watcher.close()

    assert received[0] == received[1]  # the same payload
    assert set(received[2][-1]) == {"id", "status", "version"}
    counted = executions(server, file_id)
    assert counted, "no execution logged"
    for version in (event["version"] for event in received[0]):
        # One execution for the two subscribers of one document, one for the other.
        assert counted[version] == [1, 2], counted


async def test_rights_classes_never_share_a_result(
    server, celery_worker, user, token, other_user, other_token, staff_user, staff_token
):
    await sync_to_async(staff_user.user_permissions.add)(
        await Permission.objects.aget(codename="view_file")
    )
    owner = await watching(server, token, user)
    other = await watching(server, other_token, other_user)
    staff = await watching(server, staff_token, staff_user)
    mine = await upload(server, token, "mine.txt", b"owner's")
    theirs = await upload(server, other_token, "theirs.txt", b"someone else's")

    seen_by_staff = await until_final(staff, {mine["id"], theirs["id"]})
    owner_events = await owner.files_until(is_final, timeout=30)
    other_events = await other.files_until(is_final, timeout=30)
    for watcher in (owner, other, staff):
        await watcher.close()

    assert {event["id"] for event in owner_events} == {mine["id"]}
    assert {event["id"] for event in other_events} == {theirs["id"]}
    assert {event["id"] for event in seen_by_staff} == {mine["id"], theirs["id"]}
    counted = executions(server, str(decode_file_id(mine["id"])))
    for version in (event["version"] for event in owner_events):
        # The owner's class and the staff class: two executions of one document.
        assert counted[version] == [1, 1], counted


# --- what a class shares -------------------------------------------------------------------

# A class of subscribers gets the bytes of one execution, with the first subscriber's context:
# a field of the payload type may read the file, and of the viewer only what the class key
# (Subscriber.class_key) holds besides the document: the viewer's rights (sees everyone's
# files or not) and the connection's origin. A field that reads more of the viewer (who they
# are, another permission) must first have that added to the class key, then here.
CLASS_KEY_HOLDS = {"rights", "origin"}
# Each field of `File`, and what it reads besides the file.
PAYLOAD_READS = {
    "id": set(),
    "name": set(),
    "size": set(),
    "contentType": set(),
    "progress": set(),
    "uploadedAt": set(),
    "processedAt": set(),
    "version": set(),
    "status": set(),
    "kind": set(),
    "result": {"origin"},  # the thumbnail's URL
    "processed": set(),
    "sha256": set(),
    "error": set(),
    "failureCode": set(),
    "deleted": set(),
    "url": {"origin"},
}


def below(type_) -> set:
    """The named types reachable from `type_` (a GraphQL object or union type)."""
    found = set()
    for member in type_.types if is_union_type(type_) else [type_]:
        found.add(member)
        for field in member.fields.values():
            named = get_named_type(field.type)
            if not is_leaf_type(named):
                found |= below(named)
    return found


def test_every_field_of_the_payload_reads_only_what_its_class_holds():
    file_type = schema._schema.get_type("File")
    assert set(file_type.fields) == set(PAYLOAD_READS), (
        "File's fields changed: say in PAYLOAD_READS what each new one reads besides the file "
        "(anything of the viewer beyond CLASS_KEY_HOLDS goes into Subscriber.class_key first)"
    )
    for field, reads in PAYLOAD_READS.items():
        assert reads <= CLASS_KEY_HOLDS, f"File.{field} reads {reads - CLASS_KEY_HOLDS}"
    # Below `result` (its per-kind types): data built from the stored result by File.result
    # alone, so none of their fields may resolve anything of its own.
    for type_ in below(get_named_type(file_type.fields["result"].type)):
        for field in schema.get_type_by_name(type_.name).fields:
            assert field.base_resolver is None, f"{type_.name}.{field.name} has a resolver"


def every_field(type_) -> str:
    """A selection of every field reachable from `type_` (each member of a union through a
    fragment)."""
    if is_union_type(type_):
        fragments = (f"... on {member.name} {{ {every_field(member)} }}" for member in type_.types)
        return "__typename " + " ".join(fragments)
    selected = []
    for name, field in type_.fields.items():
        named = get_named_type(field.type)
        selected.append(name if is_leaf_type(named) else f"{name} {{ {every_field(named)} }}")
    return " ".join(selected)


async def test_viewers_sharing_a_class_get_what_each_would_get_alone(
    server, celery_worker, staff_user, staff_token
):
    """Two viewers in one class (same document, both see everyone's files, same origin) but
    otherwise unlike (who they are, whose file it is, their other rights) get, from the one
    execution their class shares, what each gets from an execution of their own (a document
    no one else sends): a field that reads the viewer beyond the class key tells them apart."""
    other = await sync_to_async(get_user_model().objects.create_user)(
        "dave", password=PASSWORD, is_staff=True
    )
    await sync_to_async(grant_every_file_right)(staff_user)
    await sync_to_async(other.user_permissions.add)(
        await Permission.objects.aget(codename="view_file")
    )
    other_token = await sync_to_async(services.api_token_create)(user=other)
    selection = every_field(schema._schema.get_type("File"))
    viewers = {"carol": (staff_user, staff_token), "dave": (other, other_token)}
    shared, alone = {}, {}
    for name, (viewer, viewer_token) in viewers.items():
        shared[name] = await watching(
            server, viewer_token, viewer, f"subscription Shared {{ fileUpdates {{ {selection} }} }}"
        )
        alone[name] = await watching(
            server,
            viewer_token,
            viewer,
            f"subscription Alone{name} {{ fileUpdates {{ {selection} }} }}",
        )
    mine = await upload(server, staff_token, "carols.txt", b"whose is it?")
    received = {
        (name, kind): await subscriptions[name].files_until(is_final, timeout=30)
        for kind, subscriptions in (("shared", shared), ("alone", alone))
        for name in viewers
    }
    for subscription in [*shared.values(), *alone.values()]:
        await subscription.close()

    final = received["carol", "shared"][-1]
    assert final["id"] == mine["id"] and final["status"] == "DONE"
    counted = executions(server, str(decode_file_id(mine["id"])))
    # The two Shared subscribers in one execution, each Alone one in its own: else this test
    # compares nothing shared (pick two viewers that share a class).
    assert counted[final["version"]] == [1, 1, 2], counted
    for name in viewers:
        assert received[name, "shared"][-1] == received[name, "alone"][-1], name


async def slow_watcher(server, token, owner) -> StalledSubscription:
    subscription = await StalledSubscription.open(server, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=owner)
    return subscription


def state(owner, file_id: str, version: int, status: str, name: str = BIG_NAME) -> dict:
    """A file's public state as the workers publish it (schema/live/channel.py: publish)."""
    return {
        "id": file_id,
        "name": name,
        "size": 1,
        "content_type": "text/plain",
        "kind": "OTHER",
        "sha256": "",
        "status": status,
        "progress": version / 100,
        "error": "",
        "version": version,
        "owner_id": owner.pk,
        "result": None,
        "thumbnail": "",
        "uploaded_at": datetime.now(UTC).isoformat(),
        "processed_at": None,
    }


async def publish(owner, file_state: dict) -> None:
    await get_channel_layer().group_send(
        channel.owner_group(owner.pk), {"type": channel.MESSAGE_TYPE, "file": file_state}
    )


async def test_a_slow_subscriber_is_isolated_its_progress_merged_its_final_state_kept(
    server, user, token
):
    slow = await slow_watcher(server, token, user)
    reader = await watching(server, token, user)
    file_id = str(uuid.uuid4())
    for version in range(1, BIG_EVENTS + 1):
        await publish(user, state(user, file_id, version, "PROCESSING"))
    await publish(user, state(user, file_id, BIG_EVENTS + 1, "DONE", name="done.txt"))

    # The reader gets DONE while the slow client has not read a thing.
    assert (await reader.files_until(is_final, timeout=30))[-1]["status"] == "DONE"
    events = await slow.files_until(is_final, timeout=30)
    await reader.close()
    await slow.close()

    versions = [event["version"] for event in events]
    assert versions == sorted(set(versions))
    assert events[-1]["status"] == "DONE" and events[-1]["version"] == BIG_EVENTS + 1
    assert len(events) - 1 < BIG_EVENTS, "intermediate progress was not merged"


class Consumer:
    """What a subscriber needs of its websocket consumer, recording a close."""

    viewer_groups = (channel.owner_group(1),)
    closed_with = None

    async def close(self, code=None, reason=None):
        self.closed_with = code


@pytest.mark.django_db(transaction=False)
async def test_a_subscriber_too_far_behind_is_closed_1013(settings):
    settings.WEBSOCKET_OUTBOX_LIMIT = OUTBOX_LIMIT
    consumer = Consumer()
    subscriber = hub.Subscriber(consumer, None, None)
    owner = SimpleNamespace(pk=1)
    for _ in range(OUTBOX_LIMIT):  # status changes of many files: nothing to merge
        subscriber.offer(state(owner, str(uuid.uuid4()), 1, "DONE"), "payload")
    assert consumer.closed_with is None and len(subscriber.pending) == OUTBOX_LIMIT
    subscriber.offer(state(owner, str(uuid.uuid4()), 1, "DONE"), "payload")
    await subscriber.closing
    assert consumer.closed_with == 1013
    assert not subscriber.pending  # and nothing more is kept for it
    subscriber.offer(state(owner, str(uuid.uuid4()), 1, "DONE"), "payload")
    assert not subscriber.pending


@contextlib.contextmanager
def file_table_locked():
    """The files table locked by a connection of its own (PostgreSQL): every read of it
    waits until the block ends."""
    db = connection.settings_dict
    locker = psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    )
    try:
        with locker.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {File._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        yield locker
    finally:
        locker.rollback()
        locker.close()


def reads_waiting(locker) -> int:
    with locker.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return cursor.fetchone()[0]


async def test_the_current_state_goes_out_before_an_event_that_overtook_its_read(
    server, user, token
):
    """With `ids`, each file's current state comes first, then its changes. An event that
    reaches the server while that state is being read (held up here by a lock on the table;
    in production, a worker's change committed after the read began) waits behind it:
    written at once, the older state would follow it and be the last the client saw."""
    if connection.vendor != "postgresql":
        pytest.skip("holds the read up with PostgreSQL's LOCK TABLE; SQLite here")
    # Fields with no resolver: executing the event needs no database thread (which the held
    # read occupies), as for any client asking for these.
    document = "subscription($ids: [ID!]) { fileUpdates(ids: $ids) { id status version } }"
    file = await sync_to_async(make_done_file)(user, "raced.txt")  # version 4
    variables = {"ids": [encode_file_id(file.pk)]}
    # Same document and variables: one class, so one dispatch offers an event to both.
    live_one = await Subscription.open(server.ws_url, token=token)
    await live_one.subscribe(document, variables, owner=user)
    assert (await live_one.next_file())["version"] == 4
    raced = await Subscription.open(server.ws_url, token=token)
    with file_table_locked() as locker:
        await raced.subscribe(document, variables, owner=user)  # joined, reading
        async with asyncio.timeout(10):
            while not await sync_to_async(reads_waiting)(locker):
                await asyncio.sleep(0.01)
        newer = {**events.file_state(file), "version": 5}
        await sync_to_async(events.publish_state)(newer)
        # Offered to both in one turn of the hub: `raced` has it, sent or waiting.
        assert (await live_one.next_file())["version"] == 5
    versions = [(await raced.next_file())["version"] for _ in range(2)]
    for subscription in (live_one, raced):
        await subscription.close()
    assert versions == [4, 5]
