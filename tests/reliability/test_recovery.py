"""Stuck work is recovered: re-queued to the real worker, or FAILED after FILE_MAX_ATTEMPTS."""

import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from files_app import services
from files_app.models import File, FileStatus
from tests.conftest import BASE_DIR, stop, subprocess_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_done(files) -> None:
    wait_until(lambda: not files.exclude(status=FileStatus.DONE).exists(), 30,
               "the stuck files were not processed")


def stuck(owner, *, status, attempts, minutes_ago) -> File:
    file = File(id=uuid.uuid4(), owner=owner, name="stuck.txt", size=5, status=status,
                attempts=attempts)
    file.stored_file.save("x", ContentFile(b"stuck"), save=False)
    file.save(force_insert=True)
    File.objects.filter(pk=file.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago))
    return file


def test_stuck_files_are_requeued_and_finish(user, settings, celery_worker):
    settings.FILE_RECOVERY_AFTER = 60
    pending = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=5)
    processing = stuck(user, status=FileStatus.PROCESSING, attempts=1, minutes_ago=5)
    recent = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=0)
    assert services.files_recover() == {"requeued": 2, "failed": 0}
    wait_for_done(File.objects.filter(pk__in=[pending.pk, processing.pk]))
    recent.refresh_from_db()
    assert recent.status == FileStatus.PENDING  # not stuck yet: left alone


def test_files_that_keep_failing_to_finish_end_failed(user, settings, capsys):
    settings.FILE_RECOVERY_AFTER = 60
    settings.FILE_MAX_ATTEMPTS = 3
    hopeless = stuck(user, status=FileStatus.PROCESSING, attempts=3, minutes_ago=5)
    call_command("recover_files")
    assert "0 re-queued, 1 failed." in capsys.readouterr().out
    hopeless.refresh_from_db()
    assert hopeless.status == FileStatus.FAILED
    assert "started 3 times and never finished" in hopeless.error


def test_the_sweep_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["recover-stuck-files"]
    assert entry["task"] == "files_app.recover_files"
    assert entry["schedule"] == settings.FILE_RECOVERY_INTERVAL


def test_celery_beat_runs_the_sweep_by_itself(user, celery_worker, process_logs, tmp_path):
    """A real beat process, every second: nobody calls the sweep, the stuck file gets done
    (the session's worker runs the sweep with the default FILE_RECOVERY_AFTER)."""
    forgotten = stuck(user, status=FileStatus.PENDING, attempts=0, minutes_ago=60)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel", "INFO",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=BASE_DIR, env={**subprocess_env(), "FILE_RECOVERY_INTERVAL": "1"},
        stdout=(process_logs / "beat.log").open("ab"), stderr=subprocess.STDOUT,
    )
    try:
        wait_for_done(File.objects.filter(pk=forgotten.pk))
    finally:
        stop(beat)
