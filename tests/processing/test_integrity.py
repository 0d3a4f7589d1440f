"""Stored bytes and rows stay in step: deletes (also by cascade) and the storage audit."""

import os
import time
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from files_app.failures import FailureCode
from files_app.models import File, FileStatus, stored_name
from files_app.services import FAILURE_MESSAGES
from files_app.services.audit import storage_audit

pytestmark = pytest.mark.django_db(transaction=True)


def stored(owner, content=b"bytes") -> File:
    file = File(
        id=uuid.uuid4(), owner=owner, name="x.txt", size=len(content), status=FileStatus.DONE
    )
    file.stored_file.save("x", ContentFile(content), save=False)
    file.save(force_insert=True)
    return file


def test_deleting_a_user_removes_their_files_and_bytes(user, other_user):
    mine, theirs = stored(user), stored(other_user)
    user.delete()
    assert not File.objects.filter(pk=mine.pk).exists()
    assert not os.path.exists(mine.stored_file.path)
    assert os.path.exists(theirs.stored_file.path)


def test_storage_audit_reports_then_fixes(user, capsys):
    kept = stored(user)
    orphan = default_storage.save(f"uploads/{user.pk}/{uuid.uuid4().hex}", ContentFile(b"lost"))
    minute_old = time.time() - 60
    os.utime(default_storage.path(orphan), (minute_old, minute_old))
    # Bytes whose row may commit while the audit runs (an upload landing): never touched.
    landing = default_storage.save(f"uploads/{user.pk}/{uuid.uuid4().hex}", ContentFile(b"new"))
    gone = stored(user)
    os.remove(gone.stored_file.path)
    # A part left by a web process that died mid-upload, and one still arriving.
    abandoned = default_storage.save(f".incoming/{uuid.uuid4().hex}.part", ContentFile(b"x"))
    day_old = time.time() - 25 * 3600
    os.utime(default_storage.path(abandoned), (day_old, day_old))
    arriving = default_storage.save(f".incoming/{uuid.uuid4().hex}.part", ContentFile(b"y"))

    call_command("storage_audit")
    output = capsys.readouterr().out
    assert f"orphan bytes found: {orphan}" in output
    assert f"orphan bytes found: {abandoned}" in output
    assert arriving not in output and landing not in output
    assert f"missing bytes: file {gone.pk}" in output
    assert default_storage.exists(orphan)

    call_command("storage_audit", "--fix")
    assert not default_storage.exists(orphan)
    assert not default_storage.exists(abandoned) and default_storage.exists(arriving)
    assert default_storage.exists(landing)
    default_storage.delete(arriving)
    default_storage.delete(landing)
    gone.refresh_from_db()
    assert (gone.status, gone.error) == (
        FileStatus.FAILED,
        FAILURE_MESSAGES[FailureCode.MISSING_BYTES],
    )
    assert gone.failure_code == FailureCode.MISSING_BYTES
    kept.refresh_from_db()
    assert kept.status == FileStatus.DONE and default_storage.exists(kept.stored_file.name)
    call_command("storage_audit")
    assert "0 orphan(s), 0 missing." in capsys.readouterr().out


def test_storage_audit_finds_missing_bytes_by_code_not_by_wording(user, capsys):
    """A file already FAILED for its missing bytes is known by its code, whatever its message
    says (reworded, or translated); one FAILED for another reason is still checked."""
    known = stored(user)
    File.objects.filter(pk=known.pk).update(
        status=FileStatus.FAILED, error="Reworded.", failure_code=FailureCode.MISSING_BYTES
    )
    damaged = stored(user)
    File.objects.filter(pk=damaged.pk).update(
        status=FileStatus.FAILED,
        error=FAILURE_MESSAGES[FailureCode.MISSING_BYTES],
        failure_code=FailureCode.DAMAGED,
    )
    for file in (known, damaged):
        os.remove(file.stored_file.path)
    call_command("storage_audit", "--fix")
    output = capsys.readouterr().out
    assert f"file {known.pk}" not in output
    assert f"file {damaged.pk}" in output
    damaged.refresh_from_db()
    assert damaged.failure_code == FailureCode.MISSING_BYTES


def test_storage_audit_spares_an_upload_whose_row_commits_after_the_listing(user, monkeypatch):
    """The race, made to happen every time: a big upload's part was written a minute ago
    and renamed into place (a rename keeps its modified time); the audit reads the known
    names, lists the folder, and the upload's row commits right then (as the audit asks
    the file's modified time). The audit must ask for the row again before deleting."""
    file_id = uuid.uuid4()
    part = default_storage.save(f".incoming/{file_id.hex}.part", ContentFile(b"big upload"))
    minute_old = time.time() - 60
    os.utime(default_storage.path(part), (minute_old, minute_old))
    name = stored_name(user.pk, file_id)
    os.makedirs(os.path.dirname(default_storage.path(name)), exist_ok=True)
    os.rename(default_storage.path(part), default_storage.path(name))
    assert os.path.getmtime(default_storage.path(name)) == pytest.approx(minute_old)

    modified_time = default_storage.get_modified_time

    def row_commits_meanwhile(listed):
        if listed == name and not File.objects.filter(pk=file_id).exists():
            File.objects.create(id=file_id, owner=user, name="big.bin", size=10, stored_file=name)
        return modified_time(listed)

    monkeypatch.setattr(default_storage, "get_modified_time", row_commits_meanwhile)
    report = storage_audit(fix=True)
    assert name not in report.orphans
    assert default_storage.exists(name), "a fresh upload's bytes were deleted"
    assert File.objects.filter(pk=file_id).exists()
