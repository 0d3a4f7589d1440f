"""Resumable uploads over tus 1.0 (schema/http/tus.py): unmodified tus clients (tuspy, and
tus-js-client in Node) upload a file in two halves with a break between them, and the file
is processed like any upload; the checks come before the bytes.

The protocol's answers are tested in-process (the real ASGI application, no server); the
clients run against the session's real uvicorn and daphne servers and Celery worker."""

import asyncio
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from prometheus_client import REGISTRY
from tusclient import client as tus_client

from files_app import services
from files_app.models import File, FileStatus, ResumableUpload, staging_name
from schema.graphql.ids import encode_file_id
from tests.support.graphql import asgi_request
from tests.support.operations import WATCH_ALL
from tests.support.processes import BASE_DIR, wait_until
from tests.support.tus import STREAM, TUS, bearer, create, patch
from tests.support.wsclient import Subscription

CONTENT = b"".join(b"line %06d of a resumable upload\n" % n for n in range(8000))  # 256 KB
SIZE = len(CONTENT)
HALF = SIZE // 2
NODE_SCRIPT = Path(__file__).resolve().parent / "tus_upload.mjs"


class Watched:
    """An async body that records whether the server read any of it."""

    def __init__(self, body: bytes):
        self.body, self.read = body, False

    async def __aiter__(self):
        self.read = True
        yield self.body


# --- the protocol, in-process ---------------------------------------------------------------


@pytest.mark.django_db
def test_options_lists_version_extensions_and_max_size(settings):
    answer = asgi_request("OPTIONS", "/tus/")
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
    }
    assert answer.headers["Tus-Max-Size"] == str(settings.MAX_UPLOAD_SIZE)


@pytest.mark.django_db
def test_unauthenticated_is_401_before_any_byte(token):
    assert asgi_request("POST", "/tus/", headers={**TUS, "Upload-Length": "10"}).status_code == 401
    location = create(token, SIZE).headers["Location"]
    upload = ResumableUpload.objects.get(pk=location.rsplit("/", 1)[1])
    body = Watched(b"x" * 100)
    answer = asgi_request(
        "PATCH",
        f"/tus/{upload.pk.hex}",
        content=body,
        headers={**TUS, "Upload-Offset": "0", "Content-Type": STREAM},
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not body.read
    assert File.objects.count() == 1


@pytest.mark.django_db
def test_upload_length_over_the_limit_is_413(token, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    answer = create(token, size=1001)
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert not File.objects.exists()


@pytest.mark.django_db
def test_tus_uploads_are_counted_in_the_upload_metrics(token, settings):
    """A tus creation is an upload admitted or refused, and its PATCHes are bytes received,
    as for an upload through /graphql/ (docs/operations.md, "Metrics")."""

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    accepted = {"outcome": "accepted", "code": "OK"}
    refused = {"outcome": "refused", "code": "FILE_TOO_LARGE"}
    before = (
        sample("filesvc_uploads_total", **accepted),
        sample("filesvc_uploads_total", **refused),
        sample("filesvc_upload_received_bytes_total"),
    )
    url = create(token, SIZE).headers["Location"]
    assert patch(url, token, 0, CONTENT[:HALF]).status_code == 204
    settings.MAX_UPLOAD_SIZE = 1000
    assert create(token, size=1001).status_code == 413
    after = (
        sample("filesvc_uploads_total", **accepted),
        sample("filesvc_uploads_total", **refused),
        sample("filesvc_upload_received_bytes_total"),
    )
    assert [a - b for a, b in zip(after, before)] == [1, 1, HALF]


@pytest.mark.django_db
def test_quota_and_rate_are_checked_at_creation(token, settings):
    settings.STORAGE_QUOTA = 1000
    answer = create(token, size=1001)
    assert (answer.status_code, answer.json()["errors"][0]["extensions"]["code"]) == (
        413,
        "QUOTA_EXCEEDED",
    )
    settings.STORAGE_QUOTA, settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 0, 1
    assert create(token, SIZE).status_code == 201
    answer = create(token, SIZE)
    assert (answer.status_code, answer.json()["errors"][0]["extensions"]["code"]) == (
        429,
        "RATE_LIMITED",
    )
    assert File.objects.count() == 1


@pytest.mark.django_db
def test_head_patch_and_wrong_offset(token, user, django_capture_on_commit_callbacks):
    created = create(token, SIZE)
    assert created.status_code == 201
    url = created.headers["Location"]
    file = File.objects.get(owner=user)
    assert file.status == FileStatus.AWAITING_UPLOAD and file.name == "notes.txt"
    assert created.headers["File-Id"] == encode_file_id(file.pk)
    assert "Upload-Expires" in created.headers

    assert patch(url, token, 0, CONTENT[:HALF]).headers["Upload-Offset"] == str(HALF)
    head = asgi_request("HEAD", url, headers=bearer(token))
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == (
        str(HALF),
        str(len(CONTENT)),
    )

    body = Watched(CONTENT[HALF:])
    wrong = asgi_request(
        "PATCH",
        url,
        content=body,
        headers={**bearer(token), "Upload-Offset": "0", "Content-Type": STREAM},
    )
    assert wrong.status_code == 409
    assert wrong.json()["errors"][0]["extensions"]["code"] == "UPLOAD_OFFSET_MISMATCH"
    assert not body.read
    too_long = patch(url, token, HALF, CONTENT[HALF:] + b"more")
    assert too_long.status_code == 413

    with django_capture_on_commit_callbacks(execute=False):
        done = patch(url, token, HALF, CONTENT[HALF:])
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(CONTENT))
    file.refresh_from_db()
    assert file.status == FileStatus.PENDING and file.kind == "TEXT"
    assert default_storage.open(file.stored_file.name).read() == CONTENT


@pytest.mark.django_db
def test_someone_elses_upload_is_404(token, other_token):
    url = create(token, SIZE).headers["Location"]
    assert asgi_request("HEAD", url, headers=bearer(other_token)).status_code == 404
    assert patch(url, other_token, 0, b"x").status_code == 404


@pytest.mark.django_db
def test_termination_deletes_the_file_and_its_bytes(token, django_capture_on_commit_callbacks):
    url = create(token, SIZE).headers["Location"]
    patch(url, token, 0, CONTENT[:HALF])
    name = staging_name(File.objects.get().pk)  # where an unfinished upload's bytes are
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert asgi_request("DELETE", url, headers=bearer(token)).status_code == 204
    assert not File.objects.exists() and not default_storage.exists(name)
    assert asgi_request("HEAD", url, headers=bearer(token)).status_code == 404


@pytest.mark.django_db
def test_an_abandoned_upload_expires_through_the_sweep(
    token, settings, django_capture_on_commit_callbacks
):
    url = create(token, SIZE).headers["Location"]
    created = ResumableUpload.objects.get().expires_at
    patch(url, token, 0, CONTENT[:HALF])
    assert ResumableUpload.objects.get().expires_at > created  # each PATCH moves it on
    name = staging_name(File.objects.get().pk)
    assert default_storage.exists(name)
    soon = timezone.now() + timedelta(seconds=settings.TUS_EXPIRE - 60)
    assert services.files_recover(now=soon)["expired"] == 0
    ResumableUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert patch(url, token, HALF, CONTENT[HALF:]).status_code == 410
    with django_capture_on_commit_callbacks(execute=True):
        assert services.files_recover()["expired"] == 1
    assert not File.objects.exists() and not default_storage.exists(name)


# --- real clients on real servers -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_tuspy_uploads_in_two_halves_and_the_file_is_processed(
    uvicorn_server, celery_worker, token, user
):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(WATCH_ALL, owner=user)
    headers = {"Authorization": f"Bearer {token}"}

    def send_in_two_halves() -> int:
        first = tus_client.TusClient(f"{uvicorn_server.url}/tus/", headers=headers).uploader(
            file_stream=io.BytesIO(CONTENT),
            chunk_size=HALF,
            metadata={"filename": "halves-tuspy.txt"},
        )
        first.upload_chunk()  # then this client is gone
        second = tus_client.TusClient(f"{uvicorn_server.url}/tus/", headers=headers).uploader(
            file_stream=io.BytesIO(CONTENT), url=first.url, chunk_size=HALF
        )
        resumed_at = second.offset  # asked with HEAD
        second.upload()
        return resumed_at

    assert await asyncio.to_thread(send_in_two_halves) == HALF
    events = await subscription.files_until(lambda file: file["status"] == "DONE", timeout=30)
    await subscription.close()
    assert [event["status"] for event in events][0] == "PENDING"
    file = await File.objects.aget(owner=user)
    assert file.sha256 and file.size == len(CONTENT) and file.name == "halves-tuspy.txt"


@pytest.mark.django_db(transaction=True)
def test_tus_js_client_resumes_on_another_web_process(
    uvicorn_server, daphne_server, celery_worker, token, user, tmp_path
):
    """The first half goes to uvicorn, the rest to daphne: the offset lives in the database
    and the bytes in the storage, not in a process (a web restart loses nothing)."""
    source = tmp_path / "halves.txt"
    source.write_bytes(CONTENT)
    finished = subprocess.run(
        [
            sys.executable,  # the machine's Node.js 20+, or the pinned wheel's (tools/node.py)
            "-m",
            "tools.node",
            "node",
            str(NODE_SCRIPT),
            f"{uvicorn_server.url}/tus/",
            token,
            str(source),
            daphne_server.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BASE_DIR,
    )
    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])
    assert outcome["offsetAfterFirst"] == HALF
    file = File.objects.get(owner=user)
    assert outcome["fileId"] == encode_file_id(file.pk)
    wait_until(
        lambda: File.objects.get(pk=file.pk).status == FileStatus.DONE,
        30,
        "the file uploaded with tus-js-client was not processed",
    )
    assert Path(default_storage.path(file.stored_file.name)).read_bytes() == CONTENT
