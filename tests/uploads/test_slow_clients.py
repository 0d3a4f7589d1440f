"""Slow and stalled clients on a real uvicorn (schema/http/pacing.py): who is asking is known before
any body is read; a body that stops, or trickles below the minimum rate, is dropped with what
it wrote (a tus PATCH keeps what arrived: it is resumable); an answer that leaves a body
unread hangs up, so nobody can keep a connection by sending into the void.

Requests are written by hand (tests/support/raw_http.py), so a test stops sending where it
likes. This module's server drops a body after TIMEOUT seconds of silence."""

import json
import time

import pytest

from files_app.models import File, ResumableUpload
from files_app.sizes import KIB, MIB
from schema.http.ingress import incoming_dir
from tests.support import tus
from tests.support.graphql import multipart_body
from tests.support.processes import Server, wait_until
from tests.support.raw_http import Connection

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2.0
MIN_RATE = KIB
# The target: a stalled client is dropped within the timeout plus this.
MARGIN = 5.0
# A trickle: one byte this often, never silent for the timeout, far below the rate.
TRICKLE_SECONDS = 0.4
UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"


@pytest.fixture(scope="module")
def paced_server(django_db_setup, process_logs):
    env = {"REQUEST_BODY_IDLE_TIMEOUT": str(TIMEOUT), "REQUEST_BODY_MIN_RATE": str(MIN_RATE)}
    server = Server("uvicorn", process_logs, env=env)
    yield server
    server.stop()


def bearer(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload_body(size: int) -> tuple[bytes, str]:
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    return multipart_body(
        [
            ("operations", operations),
            ("map", json.dumps({"0": ["variables.file"]})),
            ("0", b"\0" * size, "stalled.bin"),
        ]
    )


def parts() -> list:
    return list(incoming_dir().glob("*.part")) if incoming_dir().exists() else []


def stall_until_answered(connection: Connection) -> float:
    """Send nothing more; seconds until the server answers (failing past the target)."""
    stalled = time.monotonic()
    assert connection.readable(TIMEOUT + MARGIN), "a stalled client was not dropped in time"
    return time.monotonic() - stalled


def trickle_until_answered(connection: Connection) -> float:
    """One byte every TRICKLE_SECONDS until the server answers; seconds it took."""
    started = time.monotonic()
    while not connection.readable(TRICKLE_SECONDS):
        assert time.monotonic() - started < TIMEOUT + MARGIN, "a trickle was not dropped"
        connection.send(b"\0")
    return time.monotonic() - started


def assert_dropped(connection: Connection) -> None:
    answer = connection.answer()
    assert (answer.status, answer.code()) == (408, "REQUEST_TIMEOUT"), answer
    assert answer.headers.get("connection") == "close"
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert connection.closed_within(1), "the connection was left open"


def test_an_anonymous_request_is_refused_before_its_body_and_hung_up_on(paced_server):
    """A JSON POST declaring 2 MiB, not one byte of it sent: 401 at once, not a wait for the
    body. Then the client keeps sending its body, a byte at a time: the server has hung up."""
    connection = Connection(paced_server.port)
    connection.request(
        "POST", "/graphql/", {"Content-Type": "application/json", "Content-Length": str(2 * MIB)}
    )
    started = time.monotonic()
    assert connection.readable(TIMEOUT / 2), "no answer before the body"
    answer = connection.answer()
    assert (answer.status, answer.code()) == (401, "UNAUTHENTICATED")
    assert time.monotonic() - started < TIMEOUT / 2
    deadline = time.monotonic() + TIMEOUT + MARGIN
    while connection.send(b"{") and not connection.readable(TRICKLE_SECONDS):
        assert time.monotonic() < deadline, "the connection stays open while the client sends"
    assert connection.closed_within(1)


def test_a_stalled_json_body_is_dropped(paced_server, token):
    body = json.dumps({"query": "{ files { totalCount } }", "padding": "x" * (2 * MIB - 100)})
    connection = Connection(paced_server.port)
    headers = {**bearer(token), "Content-Type": "application/json"}
    connection.request("POST", "/graphql/", {**headers, "Content-Length": str(len(body))})
    connection.send(body[:-1].encode())  # all but the last byte
    assert stall_until_answered(connection) >= TIMEOUT - 1
    assert_dropped(connection)


def test_a_stalled_upload_is_dropped_and_its_part_removed(paced_server, token):
    body, content_type = upload_body(4 * MIB)
    connection = Connection(paced_server.port)
    headers = {**bearer(token), "Content-Type": content_type, "Content-Length": str(len(body))}
    connection.request("POST", "/graphql/", headers, body[: 2 * MIB])
    wait_until(lambda: parts(), 10, "the upload's part was never written")
    stall_until_answered(connection)
    assert_dropped(connection)
    assert not parts(), "what the stalled upload wrote is removed before the answer"
    assert File.objects.count() == 0


def test_a_trickled_upload_is_dropped_and_its_part_removed(paced_server, token):
    """Never silent for the timeout, but far below REQUEST_BODY_MIN_RATE: dropped all the same."""
    body, content_type = upload_body(MIB)
    connection = Connection(paced_server.port)
    headers = {**bearer(token), "Content-Type": content_type, "Content-Length": str(len(body))}
    connection.request("POST", "/graphql/", headers, body[: 64 * KIB])
    wait_until(lambda: parts(), 10, "the upload's part was never written")
    assert trickle_until_answered(connection) >= TIMEOUT - 1
    assert_dropped(connection)
    assert not parts()
    assert File.objects.count() == 0


def test_a_trickled_tus_patch_is_dropped_and_keeps_what_arrived(paced_server, token):
    created = tus.create(token, MIB)
    assert created.status_code == 201, created.text
    path = created.headers["Location"].removeprefix("http://testserver")
    connection = Connection(paced_server.port)
    headers = {
        **tus.bearer(token),
        "Upload-Offset": "0",
        "Content-Type": tus.STREAM,
        "Content-Length": str(MIB),
    }
    connection.request("PATCH", path, headers, b"\0" * (64 * KIB))
    trickle_until_answered(connection)
    assert_dropped(connection)
    upload = ResumableUpload.objects.get()
    assert 64 * KIB <= upload.offset < MIB, "what arrived is kept, to resume from"


def test_a_stalled_form_on_a_django_route_is_dropped(paced_server):
    """Django's handler reads a whole body before any middleware runs: the pace applies there
    too (a login form here)."""
    connection = Connection(paced_server.port)
    form = b"username=someone&password=" + b"x" * 1000
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(form)),
    }
    connection.request("POST", "/accounts/login/", headers, form[:100])
    stall_until_answered(connection)
    assert_dropped(connection)
