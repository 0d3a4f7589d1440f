"""Processing outcomes, through the real worker where a worker is involved."""

import hashlib
import os

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from files_app import services
from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from files_app.processors import checksum
from files_app.tasks import process_file
from schema.graphql.ids import encode_file_id
from tests.support.files import make_file
from tests.support.operations import SUBSCRIBE, is_final
from tests.support.wsclient import Subscription


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("damage", "message", "code"),
    [
        (
            "delete-bytes",
            services.FAILURE_MESSAGES[FailureCode.MISSING_BYTES],
            FailureCode.MISSING_BYTES,
        ),
        ("truncate", "bytes but 1000 were uploaded", FailureCode.SIZE_MISMATCH),
    ],
)
async def test_a_file_that_cannot_be_processed_ends_failed_with_an_event(
    uvicorn_server, celery_worker, user, token, damage, message, code
):
    file = await sync_to_async(make_file)(
        user, b"x" * (1000 if damage != "truncate" else 10), declared_size=1000
    )
    if damage == "delete-bytes":
        await sync_to_async(file.stored_file.delete)(save=False)
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    process_file.delay(str(file.pk))
    events = await subscription.files_until(is_final, timeout=30)
    await subscription.close()
    assert [e["status"] for e in events] == ["PROCESSING", "FAILED"]
    assert message in events[-1]["error"] and events[-1]["failureCode"] == code
    stored = await File.objects.aget(pk=file.pk)
    assert stored.status == FileStatus.FAILED and message in stored.error
    assert stored.failure_code == code


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_processor_error_fails_the_file_with_a_readable_message(user, monkeypatch):
    def broken(source):
        raise RuntimeError("internal detail that users must not see")

    monkeypatch.setattr(checksum, "start", broken)
    file = make_file(user, b"data")
    services.file_process(file_id=file.pk)
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED
    assert file.error == services.FAILURE_MESSAGES[FailureCode.UNEXPECTED]
    assert file.failure_code == FailureCode.UNEXPECTED
    assert "internal detail" not in file.error


@pytest.mark.django_db(transaction=True)
def test_processing_is_idempotent(user):
    file = make_file(user, b"same bytes")
    services.file_process(file_id=file.pk)
    file.refresh_from_db()
    assert file.status == FileStatus.DONE
    version = file.version
    assert services.file_process(file_id=file.pk).file is None  # a duplicate delivery
    file.refresh_from_db()
    assert file.version == version


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_delivery_leaves_a_live_run_alone(user):
    """The broker may deliver a task again while its first run still works (the visibility
    timeout passed, the sweep re-queued a file whose task was waiting): the live run's lease
    turns the second delivery away, so the file is never processed twice at once."""
    file = make_file(user, b"only once at a time")
    running = services.file_start_processing(file_id=file.pk)
    assert services.file_process(file_id=file.pk).file is None
    file.refresh_from_db()
    assert (file.status, file.attempts, file.version) == (FileStatus.PROCESSING, 1, running.version)


@pytest.mark.django_db(transaction=True)
async def test_reprocess_runs_the_file_again(uvicorn_server, celery_worker, user, token):
    file = await sync_to_async(make_file)(user, b"again and again")
    await sync_to_async(services.file_process)(file_id=file.pk)
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, {"ids": [str(file.pk)]})
    assert (await subscription.next_file())["status"] == "DONE"
    await sync_to_async(services.file_reprocess)(user=user, file_id=file.pk)
    events = await subscription.files_until(is_final, timeout=30)
    await subscription.close()
    statuses = [e["status"] for e in events]
    assert statuses[0] == "PENDING" and statuses[-1] == "DONE", statuses
    assert events[-1]["sha256"] == hashlib.sha256(b"again and again").hexdigest()


@pytest.mark.django_db(transaction=True)
def test_delete_removes_the_bytes_after_commit(user, gql):
    file = make_file(user, b"to be deleted")
    path = file.stored_file.path
    body = gql("mutation($id: ID!) { deleteFile(id: $id) }", id=str(file.pk))
    assert body == {"data": {"deleteFile": encode_file_id(file.pk)}}
    assert not File.objects.filter(pk=file.pk).exists()
    assert not os.path.exists(path)


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_soft_time_limit_fails_as_too_long(user, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def slow(source):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(checksum, "start", slow)
    file = make_file(user, b"data")
    services.file_process(file_id=file.pk)
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED and file.failure_code == FailureCode.TOOK_TOO_LONG
    assert file.error == services.FAILURE_MESSAGES[FailureCode.TOOK_TOO_LONG]


@pytest.mark.django_db(transaction=True)
def test_storage_errors_are_retried_then_fail(user, monkeypatch):
    from files_app.exceptions import TransientProcessingError

    def flaky(source):
        raise OSError("I/O error reading the volume")

    monkeypatch.setattr(checksum, "start", flaky)
    file = make_file(user, b"data")
    with pytest.raises(TransientProcessingError):
        services.file_process(file_id=file.pk, retries_left=2)
    file.refresh_from_db()
    assert file.status == FileStatus.PROCESSING  # the retry will pick it up at once:
    assert file.lease_expires_at <= timezone.now()  # the run released its lease
    services.file_process(file_id=file.pk, retries_left=0)
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED
    assert file.failure_code == FailureCode.STORAGE_UNAVAILABLE
    assert file.error == services.FAILURE_MESSAGES[FailureCode.STORAGE_UNAVAILABLE]


@pytest.mark.django_db(transaction=True)
def test_the_task_retries_a_storage_error_until_its_retries_run_out(user, monkeypatch, settings):
    """The task as Celery runs it (eagerly: each retry runs at once, without its backoff).
    Each retry is a run, so FILE_MAX_ATTEMPTS bounds them too, and the file still ends with
    the storage error, not as a run that never finished."""
    runs = []

    def unreadable(source):
        runs.append(source)
        raise OSError("I/O error reading the volume")

    monkeypatch.setattr(checksum, "start", unreadable)
    file = make_file(user, b"data")
    process_file.apply(args=[str(file.pk)])
    assert len(runs) == min(1 + settings.PROCESSING_MAX_RETRIES, settings.FILE_MAX_ATTEMPTS)
    file.refresh_from_db()
    assert (file.status, file.failure_code) == (FileStatus.FAILED, FailureCode.STORAGE_UNAVAILABLE)


@pytest.mark.django_db(transaction=True)
def test_a_storage_error_that_clears_up_on_a_retry_ends_done(user, monkeypatch):
    runs, start = [], checksum.start

    def unreadable_twice(source):
        runs.append(source)
        if len(runs) <= 2:
            raise OSError("I/O error reading the volume")
        return start(source)

    monkeypatch.setattr(checksum, "start", unreadable_twice)
    file = make_file(user, b"data")
    process_file.apply(args=[str(file.pk)])
    file.refresh_from_db()
    assert len(runs) == 3 and file.status == FileStatus.DONE, file.error


@pytest.mark.django_db
def test_a_file_whose_runs_keep_dying_ends_failed_after_the_last_attempt(user, settings):
    """A run that kills its worker (out of memory) is redelivered at once; counting the
    attempts when a run starts ends that loop, instead of waiting for the sweep."""
    settings.FILE_MAX_ATTEMPTS = 2
    file = make_file(user, b"hello")
    File.objects.filter(pk=file.pk).update(status=FileStatus.PROCESSING, attempts=2)
    assert services.file_process(file_id=file.pk).file is None
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED and "started 2 times" in file.error
    assert file.failure_code == FailureCode.TOO_MANY_ATTEMPTS
    assert file.sha256 == "", "the file was not run a third time"
    # Reprocessing starts the count again.
    services.file_reprocess(user=user, file_id=file.pk)
    done = services.file_process(file_id=file.pk).file
    assert (done.status, done.failure_code) == (FileStatus.DONE, "")


@pytest.mark.django_db
def test_a_failure_while_storing_the_result_ends_failed_not_processing(user, monkeypatch):
    from files_app.services import processing

    def full_disk(file, thumbnail):
        raise OSError("No space left on device")

    monkeypatch.setattr(processing, "store_thumbnail", full_disk)
    file = make_file(user, b"hello")
    assert services.file_process(file_id=file.pk).file.status == FileStatus.FAILED
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED and file.failure_code == FailureCode.UNEXPECTED
    assert file.error == services.FAILURE_MESSAGES[FailureCode.UNEXPECTED]
