"""An HTTP/1.1 request sent by hand over a socket and held open part-way through its body:
what a slow client looks like to the server while other requests race it. Also the bodies
the upload tests send that way (a multipart upload, a tus PATCH)."""

import json
import select
import socket

from tests.support.graphql import BOUNDARY
from tests.support.tus import STREAM, TUS

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id size } }"


class HeldRequest:
    """Sends the head and `start` of the body at once; `finish(rest)` sends the rest, and
    `response()` reads the answer (status, lower-cased headers, JSON body or None)."""

    def __init__(self, server, method: str, path: str, headers: dict, start: bytes = b""):
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            *(f"{name}: {value}" for name, value in headers.items()),
            "",
            "",
        ]
        self.sock.sendall("\r\n".join(head).encode() + start)

    def answered(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def finish(self, rest: bytes) -> None:
        try:
            self.sock.sendall(rest)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed: `response` reads the answer

    def response(self, timeout: float = 30) -> tuple[int, dict, dict | None]:
        self.sock.settimeout(timeout)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                received = self.sock.recv(65536)
                if not received:
                    raise ConnectionError("closed without an answer")
                data += received
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:])
            }
            while len(body) < int(headers.get("content-length", 0)):
                body += self.sock.recv(65536)
        finally:
            self.sock.close()
        return int(lines[0].split(" ")[1]), headers, json.loads(body) if body else None


def upload_parts(content: bytes, name: str = "held.bin") -> tuple[bytes, bytes]:
    """A multipart `uploadFile` request's body around `content`: (head, tail)."""
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.file"]}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="{name}"\r\n'
        "\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def held_upload(server, token: str, content: bytes, sent: int) -> HeldRequest:
    """An `uploadFile` of `content` with its Content-Length, held after `sent` bytes of it."""
    head, tail = upload_parts(content)
    request = HeldRequest(
        server,
        "POST",
        "/graphql/",
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(head) + len(content) + len(tail)),
        },
        head + content[:sent],
    )
    request.rest = content[sent:] + tail
    return request


def held_patch(server, token: str, path: str, offset: int, body: bytes, sent: int):
    """A tus PATCH of `body` at `offset`, held after `sent` bytes of it."""
    request = HeldRequest(
        server,
        "PATCH",
        path,
        {
            **TUS,
            "Authorization": f"Bearer {token}",
            "Upload-Offset": str(offset),
            "Content-Type": STREAM,
            "Content-Length": str(len(body)),
        },
        body[:sent],
    )
    request.rest = body[sent:]
    return request
