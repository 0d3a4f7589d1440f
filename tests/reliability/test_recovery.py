"""Stuck work is recovered: re-queued to the real worker, or FAILED after FILE_MAX_ATTEMPTS."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from files_app import services
from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from tests.support.processes import start_celery, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_done(files) -> None:
    wait_until(
        lambda: not files.exclude(status=FileStatus.DONE).exists(),
        30,
        "the stuck files were not processed",
    )


def stuck(owner, *, status, attempts, minutes_ago) -> File:
    file = File(
        id=uuid.uuid4(), owner=owner, name="stuck.txt", size=5, status=status, attempts=attempts
    )
    file.stored_file.save("x", ContentFile(b"stuck"), save=False)
    file.save(force_insert=True)
    File.objects.filter(pk=file.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return file


def test_stuck_files_are_requeued_and_finish(user, settings, celery_worker):
    settings.FILE_RECOVERY_AFTER = 60
    pending = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=5)
    processing = stuck(user, status=FileStatus.PROCESSING, attempts=1, minutes_ago=5)
    recent = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=0)
    assert services.files_recover() == {"requeued": 2, "failed": 0, "expired": 0}
    wait_for_done(File.objects.filter(pk__in=[pending.pk, processing.pk]))
    recent.refresh_from_db()
    assert recent.status == FileStatus.PENDING  # not stuck yet: left alone


def test_files_that_keep_failing_to_finish_end_failed(user, settings, capsys):
    settings.FILE_RECOVERY_AFTER = 60
    settings.FILE_MAX_ATTEMPTS = 3
    hopeless = stuck(user, status=FileStatus.PROCESSING, attempts=3, minutes_ago=5)
    call_command("recover_files")
    assert "0 re-queued, 1 failed, 0 expired." in capsys.readouterr().out
    hopeless.refresh_from_db()
    assert hopeless.status == FileStatus.FAILED
    assert "started 3 times and never finished" in hopeless.error
    assert hopeless.failure_code == FailureCode.TOO_MANY_ATTEMPTS


def test_celery_beat_runs_the_sweep_by_itself(user, celery_worker, process_logs, tmp_path):
    """A real beat process with FILE_RECOVERY_INTERVAL=1: nobody calls the sweep, yet a stuck
    file gets done, and so does one stuck later, so the sweep recurs on that interval (the
    session's worker runs the sweep with the default FILE_RECOVERY_AFTER)."""
    forgotten = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=60)
    beat = start_celery(
        {"FILE_RECOVERY_INTERVAL": "1"},
        process_logs / "beat.log",
        "beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
    )
    try:
        wait_for_done(File.objects.filter(pk=forgotten.pk))
        later = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=60)
        wait_for_done(File.objects.filter(pk=later.pk))
    finally:
        beat.stop()


def started(owner, *, lease_seconds_left: float) -> File:
    """A file a run has started (attempt 1), with this much of its lease left."""
    file = stuck(owner, status=FileStatus.PENDING, attempts=0, minutes_ago=0)
    services.file_start_processing(file_id=file.pk)
    File.objects.filter(pk=file.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds_left)
    )
    file.refresh_from_db()
    return file


@pytest.fixture
def queued(monkeypatch) -> list:
    """What the sweep queues, kept here: a worker left running by an earlier test would
    otherwise take the file while the test looks at it."""
    from files_app import dispatch

    file_ids = []
    monkeypatch.setattr(dispatch, "file_enqueue", lambda *, file_id, **_: file_ids.append(file_id))
    return file_ids


def test_a_lapsed_lease_is_requeued_and_finishes(user, celery_worker):
    """Seconds after its worker died, not after FILE_RECOVERY_AFTER (15 min by default)."""
    orphan = started(user, lease_seconds_left=-1)
    assert services.files_recover() == {"requeued": 1, "failed": 0, "expired": 0}
    wait_for_done(File.objects.filter(pk=orphan.pk))
    orphan.refresh_from_db()
    assert orphan.attempts == 2


def test_a_live_lease_is_not_requeued(user, settings, queued):
    """However long the run has been going (its last state change 5 minutes ago, past
    FILE_RECOVERY_AFTER): a run whose worker renews its lease is alive."""
    settings.FILE_RECOVERY_AFTER = 60
    running = started(user, lease_seconds_left=20)
    File.objects.filter(pk=running.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert services.files_recover() == {"requeued": 0, "failed": 0, "expired": 0} and queued == []
    running.refresh_from_db()
    assert (running.status, running.attempts) == (FileStatus.PROCESSING, 1)


def test_a_pending_backlog_is_not_requeued_before_file_recovery_after(user, queued):
    """A queued file may wait behind a long backlog: queueing it again would only add a
    duplicate task, so the sweep leaves it for FILE_RECOVERY_AFTER (default settings)."""
    backlog = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=10)
    orphan = started(user, lease_seconds_left=-1)  # the same sweep does act on this one
    assert services.files_recover() == {"requeued": 1, "failed": 0, "expired": 0}
    assert queued == [orphan.pk]
    backlog.refresh_from_db()
    assert (backlog.status, backlog.version) == (FileStatus.PENDING, 1)
    orphan.refresh_from_db()
    assert orphan.status == FileStatus.PENDING and orphan.lease_expires_at is None


def finished(file: File) -> dict:
    """`file_finish`'s arguments for a text file whose result is `{"x": 1}`."""
    from files_app.processors import Checksum, FileKind, Result

    return {
        "checksum": Checksum(
            sha256="0" * 64, size=file.size, content_type="text/plain", kind=FileKind.TEXT
        ),
        "result": Result(fields={"x": 1}),
    }


def test_a_taken_over_run_cannot_record_progress_or_finish(user, queued):
    """Its worker froze past its lease (a long GC pause, a stopped VM) and wakes up after the
    sweep gave the file to another run: whatever it writes is refused, so the file is
    finished once, by the run that holds it."""
    frozen = started(user, lease_seconds_left=-1)
    assert services.files_recover()["requeued"] == 1 and queued == [frozen.pk]
    # Requeued but not started again yet: the frozen run still can't write.
    assert services.file_finish(file=frozen, **finished(frozen)) is None
    rescuer = services.file_start_processing(file_id=frozen.pk)
    assert rescuer.attempts == 2
    assert services.file_record_progress(file_id=frozen.pk, attempt=1, progress=0.5) is None
    assert services.file_finish(file=frozen, **finished(frozen)) is None
    assert (
        services.file_fail(file_id=frozen.pk, attempt=1, error="late", code=FailureCode.UNEXPECTED)
        is None
    )
    assert services.file_record_progress(file_id=frozen.pk, attempt=2, progress=0.5)
    done = services.file_finish(file=rescuer, **finished(rescuer))
    assert done.status == FileStatus.DONE and done.result == {"x": 1}
    assert (
        services.file_fail(file_id=frozen.pk, attempt=2, error="late", code=FailureCode.UNEXPECTED)
        is None
    )


def test_a_long_step_keeps_its_lease(user, settings, monkeypatch, queued):
    """One step lasting three leases without a word of progress (a big image decoding): the
    worker's heartbeat renews the lease, so a sweep in the middle of it leaves the run alone
    and the run finishes its file."""
    from files_app.processors import checksum

    settings.FILE_LEASE_SECONDS = 1.0
    settings.FILE_LEASE_RENEW_INTERVAL = 0.2
    start, sweeps = checksum.start, []

    def long_step(source):
        threading.Event().wait(3 * settings.FILE_LEASE_SECONDS)  # the slow step itself
        sweeps.append(services.files_recover())
        return start(source)

    monkeypatch.setattr(checksum, "start", long_step)
    file = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=0)
    done = services.file_process(file_id=file.pk).file
    assert sweeps == [{"requeued": 0, "failed": 0, "expired": 0}]
    assert done is not None and (done.status, done.attempts) == (FileStatus.DONE, 1)
