"""One writer per upload (docs/reliability.md, 29), on real uvicorn servers and a real worker:
a tus PATCH sent while another writes the same upload is refused before a byte of it is read,
the writer keeps its turn for as long as its request lasts, and one that froze past its turn
writes nothing more, so the bytes a file was processed from are the bytes it serves. A DELETE
waits for the PATCH writing the upload (else its bytes would go on arriving uncounted).

The slow client is a request sent by hand and held open part-way through its body."""

import hashlib
import os
import signal
from pathlib import Path

import httpx
import pytest
from django.core.files.storage import default_storage
from django.db.models.functions import Now

from files_app.models import File, FileStatus, UploadReservation
from tests.support.held import held_patch
from tests.support.processes import Server, wait_until
from tests.support.tus import STREAM, TUS

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 64 * 1024
HTML = (b"<html><script>alert('replaced')</script>" + b" " * SIZE)[: SIZE - 8] + b"</html>\n"
CSV = (b"name,amount\n" + b"".join(b"row%06d,%06d\n" % (n, n) for n in range(SIZE)))[:SIZE]
TURN_SECONDS = 2  # UPLOAD_RESERVATION_SECONDS of the short-turn server


@pytest.fixture(scope="module")
def short_turn_server(django_db_setup, process_logs):
    """A second web process whose writers hold their turn TURN_SECONDS between renewals."""
    server = Server("uvicorn", process_logs, env={"UPLOAD_RESERVATION_SECONDS": str(TURN_SECONDS)})
    yield server
    server.stop()


def headers(token) -> dict:
    return {**TUS, "Authorization": f"Bearer {token}"}


def create(server, token) -> tuple[str, File]:
    answer = httpx.post(
        f"{server.url}/tus/", headers={**headers(token), "Upload-Length": str(SIZE)}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    path = httpx.URL(answer.headers["Location"]).path
    return path, File.objects.get(pk=path.rsplit("/", 1)[1])


def patch(server, token, path: str, body: bytes) -> httpx.Response:
    return httpx.patch(
        f"{server.url}{path}",
        content=body,
        headers={**headers(token), "Upload-Offset": "0", "Content-Type": STREAM},
        timeout=30,
    )


def code(answer: dict) -> str:
    return answer["errors"][0]["extensions"]["code"]


def writing(file: File):
    """The reservation of the request writing the file now, if any."""
    return UploadReservation.objects.filter(file=file).first()


def processed(file: File) -> File:
    finished = File.objects.filter(pk=file.pk, status__in=(FileStatus.DONE, FileStatus.FAILED))
    wait_until(finished.exists, 60, "the upload was never processed")
    return finished.get()


def served(file: File) -> bytes:
    return Path(default_storage.path(file.stored_file.name)).read_bytes()


def test_a_racing_patch_is_refused_and_the_processed_bytes_are_served(
    uvicorn_server, celery_worker, token
):
    """The measured attack: a slow PATCH of HTML first, then a fast one of a CSV at the same
    offset. The fast one is 423 with its body unread; the file is what the writer sent."""
    path, file = create(uvicorn_server, token)
    slow = held_patch(uvicorn_server, token, path, 0, HTML, sent=100)
    wait_until(lambda: writing(file), 10, "the slow PATCH never became the writer")

    fast = patch(uvicorn_server, token, path, CSV)
    assert (fast.status_code, code(fast.json())) == (423, "UPLOAD_LOCKED"), fast.text
    terminate = httpx.delete(f"{uvicorn_server.url}{path}", headers=headers(token), timeout=10)
    assert (terminate.status_code, code(terminate.json())) == (423, "UPLOAD_LOCKED")

    slow.finish(slow.rest)
    status, answer_headers, _ = slow.response()
    assert (status, answer_headers["upload-offset"]) == (204, str(SIZE))
    assert writing(file) is None, "released when the PATCH ended"
    done = processed(file)
    assert done.status == FileStatus.DONE
    assert served(done) == HTML
    assert hashlib.sha256(served(done)).hexdigest() == done.sha256


def test_a_writer_keeps_its_turn_while_its_request_lasts(
    short_turn_server, uvicorn_server, celery_worker, token
):
    """A PATCH that lasts several times UPLOAD_RESERVATION_SECONDS renews its turn: a PATCH
    through another web process is still refused, and the first one's bytes are the file."""
    path, file = create(short_turn_server, token)
    slow = held_patch(short_turn_server, token, path, 0, HTML, sent=100)
    wait_until(lambda: writing(file), 10, "the slow PATCH never became the writer")
    first_end = writing(file).expires_at

    def renewed_past_two_turns() -> bool:
        current = writing(file)
        return bool(current) and (current.expires_at - first_end).total_seconds() > 2 * TURN_SECONDS

    wait_until(
        renewed_past_two_turns,
        8 * TURN_SECONDS,
        "the writer's turn was not renewed while its request lasted",
    )
    racing = patch(uvicorn_server, token, path, CSV)
    assert (racing.status_code, code(racing.json())) == (423, "UPLOAD_LOCKED"), racing.text

    slow.finish(slow.rest)
    assert slow.response()[0] == 204
    done = processed(file)
    assert (served(done), done.status) == (HTML, FileStatus.DONE)


def test_a_writer_that_froze_past_its_turn_writes_nothing_more(
    short_turn_server, uvicorn_server, celery_worker, token
):
    """The web process writing an upload is stopped (SIGSTOP) until its turn lapsed; another
    process completes the upload, and the file is processed. Woken up, the stale writer is
    refused and writes nothing: the file still serves the bytes it was processed from."""
    path, file = create(short_turn_server, token)
    stale = held_patch(short_turn_server, token, path, 0, HTML, sent=100)
    wait_until(lambda: writing(file), 10, "the PATCH never became the writer")
    os.kill(short_turn_server.pid, signal.SIGSTOP)
    try:
        lapsed = UploadReservation.objects.filter(file=file, expires_at__lte=Now())
        wait_until(lapsed.exists, 4 * TURN_SECONDS, "the stopped writer's turn never lapsed")
        completed = patch(uvicorn_server, token, path, CSV)
        assert completed.status_code == 204, completed.text
        done = processed(file)
        assert done.status == FileStatus.DONE
    finally:
        os.kill(short_turn_server.pid, signal.SIGCONT)
    stale.finish(stale.rest)
    status, _, answer = stale.response()
    assert (status, code(answer)) == (423, "UPLOAD_LOCKED"), answer
    assert served(done) == CSV, "the stale writer replaced the processed bytes"
    assert hashlib.sha256(served(done)).hexdigest() == File.objects.get(pk=file.pk).sha256
