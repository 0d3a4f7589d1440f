"""HTTP/1.1 written by hand over a socket, for tests that stop sending where they like (a body
that stalls or trickles, headers never finished) and watch when the server answers or hangs
up. Every wait has a deadline."""

import json
import select
import socket
import time
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def code(self) -> str:
        return json.loads(self.body)["errors"][0]["extensions"]["code"]


def request_head(method: str, path: str, host: str, headers: dict) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Connection:
    """One client connection to 127.0.0.1:`port`, from the loopback address `source` (any of
    127.0.0.0/8: a client with an address other than a proxy's on the same machine)."""

    def __init__(self, port: int, source: str = "127.0.0.1"):
        self.port = port
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        self.buffer = b""
        self.hung_up = False

    def send(self, data: bytes) -> bool:
        """False once the server has closed its side (what it answered can still be read)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> bool:
        head = request_head(method, path, f"127.0.0.1:{self.port}", headers)
        return self.send(head + body)

    def readable(self, timeout: float) -> bool:
        """Whether the server answered or hung up, waiting at most `timeout` seconds."""
        return bool(self.buffer) or bool(select.select([self.sock], [], [], timeout)[0])

    def read_some(self, deadline: float) -> bytes:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            raise AssertionError("no answer before the deadline") from None
        if not data:
            self.hung_up = True
        return data

    def answer(self, timeout: float = 10) -> Answer:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            data = self.read_some(deadline)
            assert data, f"the server hung up without an answer ({self.buffer!r})"
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            data = self.read_some(deadline)
            assert data, "the server hung up in the middle of its answer"
            self.buffer += data
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status_line.split(" ")[1]), headers, body)

    def closed_within(self, timeout: float) -> bool:
        """Whether the server hangs up within `timeout` seconds (what it sends meanwhile is
        dropped)."""
        deadline = time.monotonic() + timeout
        while not self.hung_up:
            if not self.readable(max(0.0, deadline - time.monotonic())):
                return False
            self.buffer = b""
            try:
                self.read_some(deadline)
            except AssertionError:
                return False
        return True

    def close(self) -> None:
        self.sock.close()
