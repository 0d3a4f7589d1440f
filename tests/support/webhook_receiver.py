"""A real HTTP receiver for webhooks, on loopback: a threaded `http.server` that records every
request it gets (per path) and answers each as the test scripted it.

`answers[path]` is a list of what to do with that path's next requests, in order: a status
code (a 3xx redirects to `/redirected`), HOLD (say nothing until the receiver stops, so the
sender's timeout is what ends the try) or DRIP (answer one byte at a time, never finishing:
only a deadline on the whole exchange ends it). Past the list, 200. A test waits for the
requests it expects with `next(path)`, which blocks on a queue with a deadline: no sleeping."""

import http.server
import queue
import threading
from dataclasses import dataclass

HOLD = "hold"
DRIP = "drip"  # a status line, then a header byte every DRIP_SECONDS, until the sender gives up
DRIP_SECONDS = 0.2
WAIT_SECONDS = 60.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self):
        self.answers: dict[str, list] = {}
        self.received: dict[str, queue.Queue] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    scripted = receiver.answers.get(self.path) or []
                    answer = scripted.pop(0) if scripted else 200
                receiver.inbox(self.path).put(got)
                if answer == HOLD:
                    receiver.stopping.wait(WAIT_SECONDS)
                    return
                if answer == DRIP:
                    self.drip()
                    return
                self.send_response(answer)
                if 300 <= answer < 400:
                    self.send_header("Location", receiver.url("/redirected"))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def drip(self):
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not receiver.stopping.wait(DRIP_SECONDS):
                    try:
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    except OSError:  # the sender hung up
                        return

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def inbox(self, path: str) -> queue.Queue:
        with self.lock:
            return self.received.setdefault(path, queue.Queue())

    def script(self, path: str, *answers) -> None:
        with self.lock:
            self.answers[path] = list(answers)

    def next(self, path: str, timeout: float = WAIT_SECONDS) -> Received:
        try:
            return self.inbox(path).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no delivery reached {path} within {timeout:g} s") from None

    def nothing(self, path: str) -> bool:
        return self.inbox(path).empty()

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
