"""`storage_audit` on S3, run as a user would (`manage.py`, the S3 settings, moto)."""

import subprocess
import sys
import uuid

import pytest

from files_app.models import File, FileStatus
from tests.support.processes import BASE_DIR, subprocess_env, wait_until
from tests.support.s3 import BUCKET

pytestmark = pytest.mark.django_db(transaction=True)


def audit(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "storage_audit", *args],
        cwd=BASE_DIR,
        env={**subprocess_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_storage_audit_on_s3_finds_orphans_and_missing_bytes(s3, s3_env, user):
    orphan = f"uploads/{user.pk}/{uuid.uuid4().hex}"
    s3.put_object(Bucket=BUCKET, Key=orphan, Body=b"no row refers to me")
    lost = File.objects.create(
        owner=user, name="lost.txt", size=3, stored_file=f"uploads/{user.pk}/{uuid.uuid4().hex}"
    )
    # The orphan is reported once it is older than the audit's in-flight margin (5 s).
    reports = []
    wait_until(
        lambda: reports.append(audit(s3_env)) or orphan in reports[-1],
        30,
        "the audit never reported the orphan object",
    )
    assert f"missing bytes: file {lost.pk}" in reports[-1]

    audit(s3_env, "--fix")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=orphan)
    lost.refresh_from_db()
    assert lost.status == FileStatus.FAILED
