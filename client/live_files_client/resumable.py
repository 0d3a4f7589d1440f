"""Big files over tus 1.0 (the server's /tus/, README "Resumable uploads"), with tuspy.

Resuming: tuspy keeps each upload's URL in a URL storage under a fingerprint of the file;
ours is a JSON file in the user's cache folder, and the fingerprint names the server, the
file's real path, size and modification time and a hash of its first 64 KiB, so a changed
file or another server starts afresh. Run again after an interruption (a crash, Ctrl-C, a
lost network), the same command asks the server where the bytes end (HEAD) and goes on from
there. The entry is removed once the upload is complete.

Progress: tuspy reads each PATCH's bytes with one `read(chunk_size)` of the file stream it is
given and hands the result to requests as the body. Our stream returns a view of the file
that requests reads in small blocks, so the bar moves while a chunk is sent and a chunk is
never held in memory. (This is why the package holds tuspy below 1.2.)
"""

import hashlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusUploadFailed
from tusclient.fingerprint.interface import Fingerprint
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader import Uploader

from .api import TIMEOUT, Server
from .errors import ClientError, Exit, from_answer, unreachable

# One PATCH at most this big: the page's TUS_CHUNK_SIZE, and past S3's 5 MiB minimum part
# (a smaller PATCH would store nothing there and never advance).
CHUNK_SIZE = 16 * 1024 * 1024
READ_BLOCK = 256 * 1024
FINGERPRINT_HEAD = 64 * 1024
# A lost connection, a PATCH the server still holds (423), a 5xx: ask the offset and go on,
# after these pauses; then give up (the next run resumes).
RETRY_DELAYS = (1, 2, 4, 8, 15)
RETRIED_STATUSES = {408, 409, 423, 429, 500, 502, 503, 504}


class UploadGone(Exception):
    """The server no longer has the stored upload (finished and deleted, expired, or not
    this user's): start a new one."""


def url_storage() -> FileStorage | None:
    """Where upload URLs are kept between runs: $XDG_CACHE_HOME/live-files (~/.cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(cache) / "live-files"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return FileStorage(str(folder / "tus-uploads.json"))
    except (OSError, ValueError):  # unwritable, or damaged: upload without resuming
        return None


class FileFingerprint(Fingerprint):
    def __init__(self, key: str):
        self.key = key

    def get_fingerprint(self, fs) -> str:
        return self.key


def fingerprint(endpoint: str, path: Path) -> str:
    status = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(FINGERPRINT_HEAD)).hexdigest()
    return f"{endpoint} {path.resolve()} {status.st_size} {status.st_mtime_ns} {head}"


class Chunk:
    """`length` bytes of the file from `start`, read by requests in blocks as it sends them."""

    def __init__(self, handle, start: int, length: int, on_sent: Callable[[int], None]):
        self.handle, self.start, self.length, self.on_sent = handle, start, length, on_sent
        self.sent = 0

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter(lambda: self.read(READ_BLOCK), b"")

    def read(self, size: int = -1) -> bytes:
        wanted = self.length - self.sent if size is None or size < 0 else size
        wanted = min(wanted, self.length - self.sent)
        self.handle.seek(self.start + self.sent)
        data = self.handle.read(wanted)
        self.sent += len(data)
        self.on_sent(self.start + self.sent)
        return data


class ChunkedFile:
    """The file stream tuspy is given: seeks and tells like a file, reads as Chunks."""

    def __init__(self, path: Path, on_sent: Callable[[int], None]):
        self.handle = path.open("rb")
        self.size = os.fstat(self.handle.fileno()).st_size
        self.position = 0
        self.on_sent = on_sent

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> Chunk:
        length = self.size - self.position if size < 0 else min(size, self.size - self.position)
        chunk = Chunk(self.handle, self.position, max(length, 0), self.on_sent)
        self.position += chunk.length
        return chunk

    def close(self) -> None:
        self.handle.close()

    # tuspy reads a given stream inside `with` (to fingerprint it): it stays open for the PATCHes.
    def __enter__(self) -> "ChunkedFile":
        return self

    def __exit__(self, *exc_info) -> None:
        pass


class ResumableUploader(Uploader):
    """tuspy's uploader, keeping what our server answers: the file's id (`File-Id`), and
    its error bodies (the code) and Retry-After, which tuspy's own requests drop."""

    file_id: str | None = None

    def create_url(self) -> str:
        answer = self.request_or_unreachable(
            "POST", self.client.url, self.get_url_creation_headers()
        )
        if answer.status_code != 201 or "Location" not in answer.headers:
            raise from_answer(answer.status_code, answer.content, answer.headers.get("Retry-After"))
        self.file_id = answer.headers.get("File-Id")
        return urljoin(self.client.url, answer.headers["Location"])

    def get_offset(self) -> int:
        answer = self.request_or_unreachable("HEAD", self.url, self.get_headers())
        if answer.status_code in (404, 410):
            raise UploadGone()
        if answer.status_code == 401:  # a HEAD answer has no body to name the code
            raise ClientError("the server refused the token", code="UNAUTHENTICATED", status=401)
        if answer.status_code != 200 or "Upload-Offset" not in answer.headers:
            raise from_answer(answer.status_code, b"", answer.headers.get("Retry-After"))
        self.file_id = answer.headers.get("File-Id") or self.file_id
        return int(answer.headers["Upload-Offset"])

    def request_or_unreachable(self, method: str, url: str, headers: dict):
        try:
            return requests.request(method, url, headers=headers, timeout=TIMEOUT.read)
        except requests.RequestException as error:
            raise unreachable(url, error) from None


def send(server: Server, path: Path, *, on_sent: Callable[[int], None], note) -> tuple:
    """Upload `path` through tus: (the file's id, the offset resumed from or None)."""
    # tuspy's PATCHes are sent with requests' default timeout, which is the socket module's:
    # bound it, so a server that stops reading can't hold us forever.
    socket.setdefaulttimeout(TIMEOUT.read)
    storage = url_storage()
    key = fingerprint(server.tus, path)
    source = ChunkedFile(path, on_sent)
    try:
        for attempt in range(2):
            try:
                return transfer(server, path, source, storage, key, note)
            except UploadGone:  # removed or expired meanwhile: once more, from the start
                forget(storage, key)
                if attempt:
                    raise ClientError(f"the server dropped the upload of {path.name}") from None
                note(f"the server no longer has the upload of {path.name}; starting again")
        raise AssertionError("unreachable")
    finally:
        source.close()
        if storage is not None:
            storage.close()


def transfer(server: Server, path: Path, source: ChunkedFile, storage, key: str, note) -> tuple:
    try:
        uploader = make_uploader(server, path, source, storage, key)
    except UploadGone:  # the stored upload is gone: a new one
        forget(storage, key)
        uploader = make_uploader(server, path, source, storage, key)
    resumed = uploader.offset if uploader.url else None
    if resumed is not None:
        note(f"resuming {path.name} at byte {resumed} of {source.size}")
        source.on_sent(resumed)
    else:
        source.on_sent(0)
        uploader.set_url(uploader.create_url())
        uploader.offset = 0
    while uploader.offset < source.size:
        send_chunk(uploader, path, source.on_sent)
    forget(storage, key)
    return uploader.file_id or uploader.url.rstrip("/").rsplit("/", 1)[-1], resumed


def forget(storage, key: str) -> None:
    if storage is not None:
        storage.remove_item(key)


def make_uploader(server: Server, path: Path, source, storage, key: str) -> ResumableUploader:
    """tuspy's uploader: it asks the server for the stored upload's offset, if there is one."""
    return ResumableUploader(
        file_stream=source,
        client=TusClient(server.tus, headers=server.headers),
        chunk_size=CHUNK_SIZE,
        metadata={"filename": path.name},
        store_url=storage is not None,
        url_storage=storage,
        fingerprinter=FileFingerprint(key),
    )


def send_chunk(uploader: ResumableUploader, path: Path, on_sent: Callable[[int], None]) -> None:
    """One PATCH, retried from the server's offset when the connection or the server failed."""
    for delay in (0, *RETRY_DELAYS):
        if delay:
            time.sleep(delay)  # backing off before asking the server again, not synchronising
            try:
                uploader.offset = uploader.get_offset()
            except ClientError as error:
                if error.exit != Exit.RETRY_LATER:
                    raise
                continue
            on_sent(uploader.offset)
            if uploader.offset >= uploader.stop_at:
                return
        try:
            uploader.upload_chunk()
            return
        except TusUploadFailed as failure:
            status = failure.status_code
            if status in (404, 410):
                raise UploadGone() from None
            if status is not None and status not in RETRIED_STATUSES:
                answer = getattr(uploader.request, "response_headers", None) or {}
                raise from_answer(
                    status, failure.response_content or b"", answer.get("retry-after")
                ) from None
    raise ClientError(
        f"the upload of {path.name} kept failing (connection lost, or the server unavailable); "
        "run the same command again to resume it",
        exit=Exit.RETRY_LATER,
    )
