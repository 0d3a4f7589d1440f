"""Stalled and trickled request bodies (schema/http/pacing.py): what each one holds of the web
process, and how long until it is dropped, side by side with the bare ASGI app on the same
server (bench/reference/bare_asgi.py), which has no timeout and holds them for as long as the
client likes.

STALLED clients each declare a 2 MiB JSON body, send all of it but the last byte, and stop
(authenticated: an anonymous one is refused before its body, a row of its own); one more
sends a byte every timeout/3, never silent for the timeout and far below the minimum rate.
The service runs with REQUEST_BODY_IDLE_TIMEOUT = `timeout`; the target is a drop within the
timeout plus 5 s.
"""

import select
import socket
import threading
import time

import psutil

from bench.stack import BARE_APP, WebServer
from files_app.sizes import MIB

STALLED = 20
BODY_SIZE = 2 * MIB
# How long past the service's target the bare app is watched (its connections stay open).
HORIZON_EXTRA = 5
MARGIN = 5


class Held:
    """Client connections to one server, their bodies stopped one byte short."""

    def __init__(self, server, path: str, headers: dict, count: int = STALLED):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY_SIZE}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        ).encode()
        body = b'{"query": "{ files { totalCount } }", "padding": "'
        body += b"x" * (BODY_SIZE - len(body) - 2) + b'"}'
        self.sockets = []
        self.closed_after: dict[socket.socket, float] = {}
        self.sent_at = time.monotonic()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port))
            self.sockets.append(sock)
            try:
                sock.sendall(head + body[:-1])
            except OSError:  # answered and hung up on before the body was sent
                self.closed_after[sock] = 0.0
        self.sent_at = time.monotonic()

    def watch(self, until: float) -> None:
        """Note when the server hangs up on each, until the monotonic time `until`."""
        while len(self.closed_after) < len(self.sockets) and time.monotonic() < until:
            waiting = [sock for sock in self.sockets if sock not in self.closed_after]
            readable, _, _ = select.select(waiting, [], [], 0.2)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.closed_after[sock] = time.monotonic() - self.sent_at

    def still_open(self) -> int:
        return len(self.sockets) - len(self.closed_after)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


class RssPeak(threading.Thread):
    """The most a process's RSS grew over its size at the start, sampled until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.process.memory_info().rss
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak - self.baseline


def trickle(server, token: str, every: float, result: dict) -> None:
    """One byte every `every` seconds of an upload's body; seconds until the server hangs up."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        (
            f"POST /graphql/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {BODY_SIZE}\r\n\r\n"
        ).encode()
    )
    started = time.monotonic()
    try:
        while not select.select([sock], [], [], every)[0]:
            if time.monotonic() - started > result["horizon"]:
                return
            sock.sendall(b" ")
        result["seconds"] = time.monotonic() - started
    except OSError:
        result["seconds"] = time.monotonic() - started
    finally:
        sock.close()


def stalled_bodies(report, work, token: str, timeout: float) -> None:
    env = {"REQUEST_BODY_IDLE_TIMEOUT": str(timeout)}
    service = WebServer("uvicorn", work, env=env, name="uvicorn-stalled-service")
    bare = WebServer("uvicorn", work, BARE_APP, name="uvicorn-stalled-bare", ready_path="/")
    horizon = timeout + MARGIN + HORIZON_EXTRA
    trickled = {"horizon": horizon}
    try:
        peaks = {"service": RssPeak(service.pid), "bare": RssPeak(bare.pid)}
        held = {
            "service": Held(service, "/graphql/", {"Authorization": f"Bearer {token}"}),
            "bare": Held(bare, "/", {}),
        }
        trickler = threading.Thread(
            target=trickle, args=(service, token, timeout / 3, trickled), daemon=True
        )
        trickler.start()
        deadline = time.monotonic() + horizon
        for side in held.values():
            side.watch(deadline)
        trickler.join()
        growth = {name: max(0, peak.stop()) / STALLED for name, peak in peaks.items()}
        for side in held.values():
            side.close()
        # Last: their memory would be reused by the held bodies and hide what those cost.
        anonymous = Held(service, "/graphql/", {})
        anonymous.watch(time.monotonic() + 1)
        anonymous_open = anonymous.still_open()
        anonymous.close()
    finally:
        service.stop()
        bare.stop()
    service_held, bare_held = held["service"], held["bare"]
    dropped = max(service_held.closed_after.values(), default=float("inf"))
    if service_held.still_open():
        dropped = float("inf")
    report.add(
        f"stalled anonymous 2 MiB bodies ×{STALLED}: open after 1 s",
        anonymous_open,
        "conns",
        reference=bare_held.still_open(),
        target="0",
        passed=anonymous_open == 0,
        note=f"refused (401) before the body is read, and hung up on; ref: the bare app's "
        f"stalled bodies still open after {horizon:g} s",
    )
    report.add(
        f"stalled 2 MiB bodies ×{STALLED} (token): memory per connection",
        growth["service"] / MIB,
        "MiB",
        reference=growth["bare"] / MIB,
        target="≤ 3 MiB",
        passed=growth["service"] <= 3 * MIB,
        note="ref: the bare ASGI app (streams to a file); the service holds the JSON "
        "(≤ GRAPHQL_MAX_REQUEST_FIELDS_SIZE) until dropped",
    )
    report.add(
        f"stalled 2 MiB bodies ×{STALLED} (token): dropped after",
        dropped,
        "s",
        reference=horizon,
        target=f"≤ {timeout + MARGIN:g} s",
        passed=dropped <= timeout + MARGIN,
        note=f"REQUEST_BODY_IDLE_TIMEOUT={timeout:g}; ref: the bare app, "
        f"{bare_held.still_open()} of {STALLED} still open after {horizon:g} s",
    )
    seconds = trickled.get("seconds", float("inf"))
    report.add(
        f"trickled body (1 byte every {timeout / 3:.0f} s): dropped after",
        seconds,
        "s",
        target=f"≤ {timeout + MARGIN:g} s",
        passed=seconds <= timeout + MARGIN,
        note="never silent for the timeout; below REQUEST_BODY_MIN_RATE",
    )
