"""Bytes in flight count against the quota, and uploads at once are capped
(docs/reliability.md, 31), on a real uvicorn server: each upload reserves what it may write
before its body is read, so uploads running together can't pass the quota; a user's uploads
sending at once (multipart POSTs and tus PATCHes) are capped; and a web process killed
mid-upload leaves a reservation that stops counting after UPLOAD_RESERVATION_SECONDS, which
the recovery sweep then deletes.

Uploads are sent by hand over a socket and held open part-way through their bodies."""

import threading
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from files_app import services
from files_app.models import File, UploadReservation
from files_app.sizes import MIB
from tests.support.graphql import BOUNDARY
from tests.support.held import HeldRequest, held_patch, held_upload, upload_parts
from tests.support.processes import Server, wait_until
from tests.support.tus import TUS

pytestmark = pytest.mark.django_db(transaction=True)

QUOTA = 20 * MIB
CAP = 3
RESERVATION_SECONDS = 2
CHUNK = MIB  # what the ingress writes at a time


@pytest.fixture(scope="module")
def quota_server(django_db_setup, process_logs):
    server = Server(
        "uvicorn",
        process_logs,
        env={
            "STORAGE_QUOTA": str(QUOTA),
            "UPLOAD_MAX_CONCURRENT_PER_USER": str(CAP),
            "UPLOAD_RESERVATION_SECONDS": str(RESERVATION_SECONDS),
        },
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def same_quota(settings):
    """This process counts as the server does (services.upload_allowance below)."""
    settings.STORAGE_QUOTA = QUOTA
    settings.UPLOAD_RESERVATION_SECONDS = RESERVATION_SECONDS


def code(answer: dict) -> str:
    return answer["errors"][0]["extensions"]["code"]


def live_reservations(user) -> int:
    return UploadReservation.objects.filter(owner=user).count()


class IncomingWatch(threading.Thread):
    """The most bytes MEDIA_ROOT/.incoming held at once while uploads were in flight."""

    def __init__(self):
        super().__init__(daemon=True)
        self.folder = Path(settings.MEDIA_ROOT) / ".incoming"
        self.most = 0
        self.done = threading.Event()

    def held(self) -> int:
        total = 0
        for part in self.folder.glob("*.part"):
            try:
                total += part.stat().st_size
            except FileNotFoundError:  # renamed or removed while we looked
                continue
        return total

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.most = max(self.most, self.held())

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.most


def test_concurrent_uploads_cannot_pass_the_quota_together(quota_server, token, user):
    """Three uploads of 8 MiB against a 20 MiB quota: two reserve 16 MiB, the third is
    refused before its body is read (each was checked against the quota as it stood when it
    started, and all three were let in: 24 MiB in flight)."""
    content = b"q" * (8 * MIB)
    watch = IncomingWatch()
    watch.start()
    first = held_upload(quota_server, token, content, sent=4 * MIB)
    wait_until(lambda: live_reservations(user) == 1, 10, "the first upload reserved nothing")
    second = held_upload(quota_server, token, content, sent=4 * MIB)
    wait_until(lambda: live_reservations(user) == 2, 10, "the second upload reserved nothing")

    third = held_upload(quota_server, token, content, sent=0)
    status, _, answer = third.response(timeout=10)
    assert (status, code(answer)) == (413, "QUOTA_EXCEEDED"), answer
    for upload in (first, second):
        upload.finish(upload.rest)
        status, _, answer = upload.response()
        assert status == 200 and "errors" not in answer, answer
    most = watch.stop()
    assert most <= QUOTA + CHUNK, f"{most / MIB:.1f} MiB were in flight at once"
    assert File.objects.filter(owner=user).count() == 2
    assert live_reservations(user) == 0, "each upload released its reservation"
    assert services.upload_allowance(owner=user).bytes == QUOTA - 16 * MIB


def test_uploads_at_once_are_capped(quota_server, token, user):
    """CAP uploads sending at once (a tus PATCH among them): one more is 429 before its body
    is read; once one ends, the next is let in."""
    created = httpx.post(
        f"{quota_server.url}/tus/",
        headers={**TUS, "Authorization": f"Bearer {token}", "Upload-Length": str(MIB)},
        timeout=10,
    )
    path = httpx.URL(created.headers["Location"]).path
    held = [held_patch(quota_server, token, path, 0, b"t" * MIB, sent=10)]
    content = b"c" * MIB
    while len(held) < CAP:
        held.append(held_upload(quota_server, token, content, sent=10))
        wait_until(lambda: live_reservations(user) == len(held), 10, "an upload reserved nothing")

    over = held_upload(quota_server, token, content, sent=0)
    status, headers, answer = over.response(timeout=10)
    assert (status, code(answer)) == (429, "RATE_LIMITED"), answer
    assert f"At most {CAP} of your uploads" in answer["errors"][0]["message"]
    for request in held:
        request.finish(request.rest)
        assert request.response()[0] in (200, 204)
    again = held_upload(quota_server, token, content, sent=MIB)
    again.finish(again.rest)
    assert again.response()[0] == 200


def test_a_request_that_stores_nothing_gives_its_reservation_back(quota_server, token, user):
    """A client gone mid-body, and a chunked upload (no Content-Length: it reserves all the
    quota leaves) refused where it passes that: each request's reservation is deleted when it
    ends, not left to expire."""
    gone = held_upload(quota_server, token, b"g" * (8 * MIB), sent=MIB)
    wait_until(lambda: live_reservations(user) == 1, 10, "the upload reserved nothing")
    gone.sock.close()
    wait_until(lambda: live_reservations(user) == 0, 10, "a dropped upload kept its reservation")

    head, _ = upload_parts(b"")
    chunked = HeldRequest(
        quota_server,
        "POST",
        "/graphql/",
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Transfer-Encoding": "chunked",
        },
    )
    wait_until(lambda: live_reservations(user) == 1, 10, "the chunked upload reserved nothing")
    body = head + b"c" * (QUOTA + MIB)
    chunked.finish(b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in chunks(body)))
    status, _, answer = chunked.response()
    assert (status, code(answer)) == (413, "QUOTA_EXCEEDED"), answer
    wait_until(lambda: live_reservations(user) == 0, 10, "a refused upload kept its reservation")
    assert not File.objects.filter(owner=user).exists()


def chunks(data: bytes, size: int = MIB):
    return (data[start : start + size] for start in range(0, len(data), size))


def test_a_killed_web_process_gives_its_reservation_back(quota_server, token, user):
    """kill -9 mid-upload: its reservation holds the quota until it expires (on the database's
    clock), then stops counting; the recovery sweep deletes it, and uploads go on."""
    held = held_upload(quota_server, token, b"k" * (16 * MIB), sent=MIB)
    wait_until(lambda: live_reservations(user) == 1, 10, "the upload reserved nothing")
    assert services.upload_allowance(owner=user).bytes <= QUOTA - 16 * MIB
    quota_server.process.kill()
    quota_server.process.wait()
    held.sock.close()
    try:
        wait_until(
            lambda: services.upload_allowance(owner=user).bytes == QUOTA,
            5 * RESERVATION_SECONDS,
            "a dead process's reservation kept counting against the quota",
        )
        assert live_reservations(user) == 1, "not deleted yet: it only stopped counting"
        services.files_recover()
        assert live_reservations(user) == 0, "the sweep deleted it"
    finally:
        quota_server.start()
        # What the killed process had written is left for storage_audit (after a day).
        for part in (Path(settings.MEDIA_ROOT) / ".incoming").glob("*.part"):
            part.unlink()
    content = b"a" * (12 * MIB)
    again = held_upload(quota_server, token, content, sent=len(content))
    again.finish(again.rest)
    status, _, answer = again.response()
    assert status == 200 and "errors" not in answer, answer


def test_an_uploads_reservation_ends_with_its_rows(user, settings):
    """Two uploads fill the quota between them. The first to be stored hands its reserved
    bytes over to its rows in the same transaction, so the second, stored before the first
    request's answer went out (its reservation released), still fits."""
    settings.STORAGE_QUOTA = 2 * MIB
    first, second = (services.upload_reserve(owner=user, size=MIB) for _ in range(2))
    for reservation, name in ((first, "first.bin"), (second, "second.bin")):
        upload = SimpleUploadedFile(name, b"r" * MIB)
        upload.reservation_id = reservation.pk
        services.file_create(owner=user, upload=upload)
    assert File.objects.filter(owner=user).count() == 2
    assert live_reservations(user) == 0
