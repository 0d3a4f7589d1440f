"""Starting a file is one round trip (fair share, attempt, lease), and two starts of one
owner's files still count one after the other: the second waits for the first's transaction
and then sees its file PROCESSING. On PostgreSQL an UPDATE's own subquery reads the snapshot
taken before it waited, so the owner's row is locked by a statement of its own sent first
(`statements.owner_locked`); SQLite runs one write at a time."""

import threading

import pytest
from django.db import connection, transaction

from files_app import services
from files_app.models import File, FileStatus
from tests.support.files import make_file
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_for_a_lock() -> bool:
    """Whether another session of this database waits for a lock (asked from inside a
    transaction, whose statistics stay as first read unless cleared)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_a_start_waits_for_a_start_of_the_same_owner_and_counts_it(user, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write at a time")
    settings.FILE_MAX_IN_FLIGHT_PER_USER = 1
    first = make_file(user, b"first", name="first.txt")
    second = make_file(user, b"second", name="second.txt")
    outcome = {}

    def start_second():
        try:
            outcome["second"] = services.file_start_processing(file_id=second.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=start_second)
    with transaction.atomic():
        assert services.file_start_processing(file_id=first.pk) is not None
        thread.start()
        wait_until(
            lambda: "second" in outcome or waiting_for_a_lock(),
            10,
            "the second start neither waited nor ended",
        )
    thread.join(10)
    assert outcome["second"] is None, "the second start did not count the first"
    assert list(File.objects.filter(status=FileStatus.PROCESSING).values_list("pk", flat=True)) == [
        first.pk
    ]


def test_a_start_and_an_uploads_commit_never_wait_for_each_other(user, settings):
    """An upload's insert holds its owner's counter row (`OwnerUsage`, kept by a trigger)
    until it commits, and its commit checks the file's owner: Django's foreign keys are
    checked then, FOR KEY SHARE on the user's row. A start locks the owner's row, then
    counts on that counter row. Locked FOR UPDATE, the commit waited for the start and the
    start for the commit, and PostgreSQL aborted one (the bench saw uploads refused 503 and
    files left PENDING); FOR NO KEY UPDATE leaves the foreign-key check alone."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write at a time")
    settings.FILE_MAX_IN_FLIGHT_PER_USER = 4
    queued = make_file(user, b"queued", name="queued.txt")
    outcome = {}

    def start():
        try:
            outcome["started"] = services.file_start_processing(file_id=queued.pk)
        except Exception as error:  # what a deadlock raises in the start
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=start)
    with transaction.atomic():
        make_file(user, b"uploaded", name="uploaded.txt")  # the counter row: ours till commit
        thread.start()
        wait_until(
            lambda: outcome or waiting_for_a_lock(), 10, "the start neither waited nor ended"
        )
    thread.join(10)
    assert "error" not in outcome, outcome
    assert outcome["started"] is not None and outcome["started"].status == FileStatus.PROCESSING
