"""Processing outcomes, through the real worker where a worker is involved."""

import hashlib
import io
import os
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.utils import timezone

from files_app import services
from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from files_app.processors import Checksum, ProcessingSource, checksum, sniff_content_type
from files_app.services.processing import processing_limits
from files_app.tasks import process_file
from schema.ids import encode_file_id
from tests.test_pipeline import SUBSCRIBE, is_final
from tests.wsclient import Subscription


def make_file(owner, content: bytes, *, declared_size=None) -> File:
    file = File(id=uuid.uuid4(), owner=owner, name="made.bin",
                size=declared_size if declared_size is not None else len(content))
    file.stored_file.save("ignored", ContentFile(content), save=False)
    file.save(force_insert=True)
    return file


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("damage", "message", "code"),
    [
        ("delete-bytes", services.FAILURE_MESSAGES[FailureCode.MISSING_BYTES],
         FailureCode.MISSING_BYTES),
        ("truncate", "bytes but 1000 were uploaded", FailureCode.SIZE_MISMATCH),
    ],
)
async def test_a_file_that_cannot_be_processed_ends_failed_with_an_event(
    uvicorn_server, celery_worker, user, token, damage, message, code
):
    file = await sync_to_async(make_file)(user, b"x" * (1000 if damage != "truncate" else 10),
                                          declared_size=1000)
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
def test_an_unexpected_processor_error_fails_the_file_with_a_readable_message(
    user, monkeypatch
):
    def broken(source):
        raise RuntimeError("internal detail that users must not see")

    monkeypatch.setattr(checksum, "process", broken)
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
    assert services.file_process(file_id=file.pk) is None  # a duplicate delivery
    file.refresh_from_db()
    assert file.version == version


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_delivery_leaves_a_live_run_alone(user):
    """The broker may deliver a task again while its first run still works (the visibility
    timeout passed, the sweep re-queued a file whose task was waiting): the live run's lease
    turns the second delivery away, so the file is never processed twice at once."""
    file = make_file(user, b"only once at a time")
    running = services.file_start_processing(file_id=file.pk)
    assert services.file_process(file_id=file.pk) is None
    file.refresh_from_db()
    assert (file.status, file.attempts, file.version) == (
        FileStatus.PROCESSING, 1, running.version)


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


def test_the_checksum_pass_reports_progress_to_the_end():
    content = b"abc" * 10_000
    seen = []
    checked = checksum.process(ProcessingSource(
        stream=io.BytesIO(content), size=len(content), name="x", content_type="",
        chunk_size=4096, report_progress=seen.append, limits=processing_limits(),
    ))
    assert checked == Checksum(sha256=hashlib.sha256(content).hexdigest(),
                               content_type="text/plain", size=len(content), kind="TEXT")
    assert seen == sorted(seen) and seen[-1] == 1.0


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
        ("héllo wörld".encode(), "text/plain"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_content_type_is_sniffed_from_the_bytes(head, content_type):
    assert sniff_content_type(head) == content_type


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_soft_time_limit_fails_as_too_long(user, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def slow(source):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(checksum, "process", slow)
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

    monkeypatch.setattr(checksum, "process", flaky)
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


def test_the_task_is_configured_to_time_out_and_retry(settings):
    assert process_file.soft_time_limit == settings.PROCESSING_SOFT_TIME_LIMIT
    assert process_file.time_limit > process_file.soft_time_limit
    assert process_file.max_retries == settings.PROCESSING_MAX_RETRIES
    from files_app.exceptions import TransientProcessingError

    assert TransientProcessingError in process_file.autoretry_for


@pytest.mark.django_db
def test_a_file_whose_runs_keep_dying_ends_failed_after_the_last_attempt(user, settings):
    """A run that kills its worker (out of memory) is redelivered at once; counting the
    attempts when a run starts ends that loop, instead of waiting for the sweep."""
    settings.FILE_MAX_ATTEMPTS = 2
    file = make_file(user, b"hello")
    File.objects.filter(pk=file.pk).update(status=FileStatus.PROCESSING, attempts=2)
    assert services.file_process(file_id=file.pk) is None
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED and "started 2 times" in file.error
    assert file.failure_code == FailureCode.TOO_MANY_ATTEMPTS
    assert file.sha256 == "", "the file was not run a third time"
    # Reprocessing starts the count again.
    services.file_reprocess(user=user, file_id=file.pk)
    done = services.file_process(file_id=file.pk)
    assert (done.status, done.failure_code) == (FileStatus.DONE, "")


@pytest.mark.django_db
def test_a_failure_while_storing_the_result_ends_failed_not_processing(user, monkeypatch):
    from files_app.services import processing

    def full_disk(file, thumbnail):
        raise OSError("No space left on device")

    monkeypatch.setattr(processing, "store_thumbnail", full_disk)
    file = make_file(user, b"hello")
    assert services.file_process(file_id=file.pk).status == FileStatus.FAILED
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED and file.failure_code == FailureCode.UNEXPECTED
    assert file.error == services.FAILURE_MESSAGES[FailureCode.UNEXPECTED]
