"""The upload ingress on a real uvicorn server: who is asking and whether the request fits
are checked before the body is stored, limits stop a body where it crosses them (not at its
end), and each uploaded byte is written once.

Requests are sent by hand over a socket so the test sees the answer while it is still
sending, and a watcher samples the storage folders meanwhile."""

import json
import select
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from files_app.models import File, FileStatus
from files_app.sizes import GIB, MIB
from schema.http.ingress import incoming_dir
from tests.support.graphql import BOUNDARY
from tests.support.held import upload_parts
from tests.support.processes import Server, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SMALL_LIMIT = 1 * MIB


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


class FolderWatch(threading.Thread):
    """The most bytes MEDIA_ROOT (the incoming folder included) held beyond its size at the
    start, sampled while the request is in flight."""

    def __init__(self):
        super().__init__(daemon=True)
        self.folder = Path(settings.MEDIA_ROOT)
        self.baseline = folder_bytes(self.folder)
        self.most = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            try:
                self.most = max(self.most, folder_bytes(self.folder) - self.baseline)
            except FileNotFoundError:  # a part renamed while we looked: look again
                continue

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.most, folder_bytes(self.folder) - self.baseline)


def upload_head(name: str = "big.bin") -> bytes:
    return upload_parts(b"", name)[0]


def upload_tail() -> bytes:
    return upload_parts(b"")[1]


class Exchange:
    """One HTTP/1.1 request sent chunk by chunk; stops sending once the answer arrives."""

    def __init__(self, server, headers: dict):
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        head = [
            "POST /graphql/ HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
            *(f"{key}: {value}" for key, value in headers.items()),
            "",
            "",
        ]
        self.started = time.perf_counter()
        self.sock.sendall("\r\n".join(head).encode())
        self.chunked = headers.get("Transfer-Encoding") == "chunked"
        self.sent = 0
        self.answered_after = None

    def answered(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def send(self, chunks) -> None:
        try:
            for chunk in chunks:
                if self.answered():
                    break
                framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if self.chunked else chunk
                self.sock.sendall(framed)
                self.sent += len(chunk)
            else:
                if self.chunked:
                    self.sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: read its answer

    def response(self, timeout: float = 60) -> tuple[int, dict]:
        self.sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        self.answered_after = time.perf_counter() - self.started
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(body) < length:
            body += self.sock.recv(65536)
        self.sock.close()
        return int(head.split(b" ")[1]), json.loads(body)


def zeros(total: int, size: int = MIB):
    block = b"\0" * size
    for _ in range(total // size):
        yield block


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def written_by(server) -> int:
    """Bytes the server process has passed to write() so far (any file, any folder)."""
    return psutil.Process(server.process.pid).io_counters().write_chars


@pytest.fixture(scope="module")
def small_limit_server(django_db_setup, process_logs):
    server = Server("uvicorn", process_logs, env={"MAX_UPLOAD_SIZE": str(SMALL_LIMIT)})
    yield server
    server.stop()


def test_anonymous_upload_is_refused_before_its_body_is_read(uvicorn_server):
    watch = FolderWatch()
    watch.start()
    written = written_by(uvicorn_server)
    exchange = Exchange(uvicorn_server, {"Content-Length": str(GIB)})
    exchange.send([upload_head(), *zeros(GIB)])
    status, body = exchange.response()
    assert (status, code(body)) == (401, "UNAUTHENTICATED")
    assert exchange.sent < 64 * MIB, f"{exchange.sent / MIB:.0f} MiB were sent before the answer"
    assert watch.stop() == 0, "nothing may be stored for an anonymous request"
    assert written_by(uvicorn_server) - written < MIB
    assert File.objects.count() == 0


def test_declared_length_over_the_limit_is_refused_at_once(small_limit_server, token):
    written = written_by(small_limit_server)
    exchange = Exchange(
        small_limit_server, {"Content-Length": str(GIB), "Authorization": f"Bearer {token}"}
    )
    exchange.send([upload_head(), *zeros(GIB)])
    status, body = exchange.response()
    assert (status, code(body)) == (413, "FILE_TOO_LARGE")
    assert "is larger than this upload may be" in body["errors"][0]["message"], (
        "refused for its declared length, before the body was read"
    )
    assert exchange.sent < 64 * MIB
    assert written_by(small_limit_server) - written < MIB
    assert File.objects.count() == 0


def test_a_streamed_file_over_the_limit_stops_at_the_limit(small_limit_server, token):
    """No Content-Length (chunked): the limit applies while the bytes arrive, and what was
    written of the part is removed before the answer."""
    watch = FolderWatch()
    watch.start()
    exchange = Exchange(
        small_limit_server, {"Transfer-Encoding": "chunked", "Authorization": f"Bearer {token}"}
    )
    exchange.send([upload_head(), *zeros(GIB, 64 * 1024)])
    status, body = exchange.response()
    assert (status, code(body)) == (413, "FILE_TOO_LARGE")
    assert exchange.sent < 64 * MIB, f"{exchange.sent / MIB:.0f} MiB were sent before the answer"
    watch.stop()
    assert watch.most <= SMALL_LIMIT + MIB, "never more than the limit on disk"
    assert folder_bytes(Path(settings.MEDIA_ROOT)) == watch.baseline
    assert not list(incoming_dir().iterdir()), "the part was removed before the answer"
    assert File.objects.count() == 0


def test_a_one_gib_upload_is_written_once(uvicorn_server, celery_worker, token):
    """And processed: the test ends once the worker is done with it, not while the worker's
    transaction could deadlock with the database flush after the test."""
    written = written_by(uvicorn_server)
    exchange = Exchange(
        uvicorn_server, {"Transfer-Encoding": "chunked", "Authorization": f"Bearer {token}"}
    )
    exchange.send([upload_head(), *zeros(GIB), upload_tail()])
    status, body = exchange.response(timeout=300)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["uploadFile"]["size"] == GIB
    stored = File.objects.get()
    assert Path(stored.stored_file.path).stat().st_size == GIB
    copies = (written_by(uvicorn_server) - written) / GIB
    assert copies < 1.05, f"the server wrote {copies:.2f}× the upload"
    assert not list(incoming_dir().iterdir())
    finished = File.objects.filter(pk=stored.pk, status__in=(FileStatus.DONE, FileStatus.FAILED))
    wait_until(finished.exists, 120, "the 1 GiB file was never processed")
    assert finished.get().status == FileStatus.DONE
