"""`live-files download`: the file's bytes through its `url` (owner-checked: the token goes
with the request; on S3 the server redirects to a presigned URL, and httpx drops the token
on a redirect to another origin), to a file or to stdout, checked against the file's sha256
when it has one. A file is written under a temporary name and renamed once complete, so a
failed download never leaves a partial file under the real name."""

import contextlib
import hashlib
import sys
from pathlib import Path

import httpx

from . import documents
from .api import TIMEOUT, Api
from .errors import MAX_ERROR_BODY, ClientError, Exit, from_answer, unreachable
from .output import Bars

BLOCK = 256 * 1024


def destination(file: dict, output: str | None, force: bool) -> Path | None:
    """Where to write: None for stdout (`-o -`), else the path, never overwriting unless
    --force. Without -o: the file's name in the current folder."""
    if output == "-":
        return None
    name = Path(file["name"]).name  # the server sends no path; never write outside anyway
    name = name if name not in ("", ".", "..") else file["url"].split("/")[-2]
    path = Path(output) if output else Path(name)
    if path.is_dir():
        path = path / name
    if path.exists() and not force:
        raise ClientError(f"{path} exists (pass --force to replace it)", exit=Exit.USAGE)
    return path


def download(api: Api, file_id: str, *, output: str | None, force: bool, bars: Bars) -> dict:
    """The file's record, once its bytes are written where asked."""
    file = api.execute(documents.FILE, {"id": file_id})["file"]
    if file is None:
        raise ClientError(f"no file {file_id} (or it is not yours)", code="NOT_FOUND")
    path = destination(file, output, force)
    partial = path.with_name(f".{path.name}.part") if path else None
    try:
        target = open(partial, "wb") if partial else contextlib.nullcontext(sys.stdout.buffer)
        with target as sink:
            digest = fetch(api, file, sink, bars)
        if file.get("sha256") and digest != file["sha256"]:
            raise ClientError(
                f"the bytes received do not match the file's sha256 ({digest} ≠ {file['sha256']})"
            )
        if partial:
            partial.replace(path)
    finally:
        if partial and partial.exists():
            partial.unlink()
    return {**file, "savedTo": str(path) if path else "-"}


def fetch(api: Api, file: dict, sink, bars: Bars) -> str:
    digest = hashlib.sha256()
    task = bars.add(file["name"], file["size"])
    try:
        with httpx.stream(
            "GET",
            file["url"],
            headers=api.server.headers,
            timeout=TIMEOUT,
            follow_redirects=True,
        ) as answer:
            if answer.status_code != 200:
                raise from_answer(
                    answer.status_code, first_bytes(answer), answer.headers.get("Retry-After")
                )
            received = 0
            for block in answer.iter_bytes(BLOCK):
                sink.write(block)
                digest.update(block)
                received += len(block)
                bars.sent(task, received, file["size"], verb="downloading")
    except httpx.TransportError as error:
        raise unreachable(file["url"], error) from None
    return digest.hexdigest()


def first_bytes(answer: httpx.Response) -> bytes:
    """An error answer's body, up to MAX_ERROR_BODY: a message, not a download."""
    body = b""
    for block in answer.iter_bytes():
        body += block
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]
