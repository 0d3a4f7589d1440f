"""`live-files upload`: each file, one after the other, through the GraphQL multipart request
(`uploadFile`) or, from the tus threshold on, through tus (resumable.py), each with its bar.

One file refused (too large, past the quota) does not stop the others; a refusal every file
would meet (a bad token, an unreachable server) stops the run there."""

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from gql import FileVar

from . import documents
from .api import Api
from .errors import ClientError, Exit
from .output import Bars

# What the live page sends through tus (the server's TUS_THRESHOLD default): below it one
# request is cheaper than tus's creation, HEAD and PATCHes; from it on, a dropped connection
# costs the bytes since the last PATCH rather than the whole file.
TUS_THRESHOLD = 32 * 1024 * 1024
# When files fail differently, the run exits with the first of these that any file had.
EXIT_PRIORITY = (Exit.UNAUTHENTICATED, Exit.RETRY_LATER, Exit.REFUSED, Exit.PROCESSING_FAILED)


@dataclasses.dataclass
class Outcome:
    path: Path
    size: int
    transport: str  # "multipart" or "tus"
    task: object = None  # its bar
    file: dict | None = None
    error: ClientError | None = None
    resumed_from: int | None = None

    def as_json(self) -> dict:
        return {
            "path": str(self.path),
            "transport": self.transport,
            "resumedFrom": self.resumed_from,
            "file": self.file,
            "error": self.error.as_json() if self.error else None,
        }


class ProgressReader:
    """The file as httpx reads it into the multipart body, reporting how far it got."""

    def __init__(self, handle, on_sent: Callable[[int], None]):
        self.handle, self.on_sent = handle, on_sent

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.on_sent(self.handle.tell())
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def fileno(self) -> int:
        return self.handle.fileno()


def checked(paths: list[str]) -> list[tuple[Path, int]]:
    """Each path with its size; every one must be a readable regular file, or nothing is sent."""
    found, problems = [], []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            problems.append(f"{name}: no such file" if not path.exists() else f"{name}: not a file")
        elif not os.access(path, os.R_OK):
            problems.append(f"{name}: not readable")
        else:
            found.append((path, path.stat().st_size))
    if problems:
        raise ClientError("nothing uploaded: " + "; ".join(problems), exit=Exit.USAGE)
    return found


def upload_all(api: Api, paths: list[str], *, bars: Bars, threshold: int, note) -> list[Outcome]:
    outcomes = [
        Outcome(path, size, "tus" if size >= threshold else "multipart", bars.add(path.name, size))
        for path, size in checked(paths)
    ]
    for index, outcome in enumerate(outcomes):
        try:
            outcome.file = send(api, outcome, bars, note)
            bars.uploaded(outcome.task, outcome.file)
        except ClientError as error:
            bars.refused(outcome.task, str(error))
            if stops_the_run(error):
                for left in outcomes[index:]:
                    left.error = error
                break
            outcome.error = error
    return outcomes


def send(api: Api, outcome: Outcome, bars: Bars, note) -> dict:
    def on_sent(done: int) -> None:
        bars.sent(outcome.task, done, outcome.size)

    if outcome.transport == "tus":
        from . import resumable  # tuspy brings aiohttp and requests: 0.3 s, for big files only

        file_id, outcome.resumed_from = resumable.send(
            api.server, outcome.path, on_sent=on_sent, note=note
        )
        file = api.execute(documents.FILE, {"id": file_id})["file"]
        if file is None:
            raise ClientError(f"{outcome.path.name} was uploaded, then deleted", code="NOT_FOUND")
        return file
    with outcome.path.open("rb") as handle:
        upload = FileVar(ProgressReader(handle, on_sent), filename=outcome.path.name)
        return api.execute(documents.UPLOAD_FILE, {"file": upload}, upload=True)["uploadFile"]


def stops_the_run(error: ClientError) -> bool:
    """A refusal the next file would meet too: the token, or no server to talk to."""
    return error.exit == Exit.UNAUTHENTICATED or (
        error.exit == Exit.RETRY_LATER and error.code is None and error.status is None
    )


def exit_code(outcomes: list[Outcome], waited: bool) -> Exit:
    had = {outcome.error.exit for outcome in outcomes if outcome.error}
    if waited:
        for outcome in outcomes:
            if outcome.file and (outcome.file["status"] == "FAILED" or outcome.file["deleted"]):
                had.add(Exit.PROCESSING_FAILED)
    return next((code for code in EXIT_PRIORITY if code in had), Exit.OK)
