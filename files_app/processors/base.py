"""The one signature every processor has, and the helpers they share.

A processor is `process(source: ProcessingSource) -> Result`: it reads the stream
(seekable, binary), reports progress as a fraction, and returns its result: JSON-safe fields
plus, for images, thumbnail bytes. It raises `ProcessingError` with a message for the user when the
file is broken or hostile (with the `FailureCode` saying why); anything else it raises is
treated as a bug.
"""

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ..failures import FailureCode
from ..sizes import MIB


class ProcessingError(Exception):
    """A permanent failure whose message is shown to the user as the file's `error`, and
    whose `code` is stored beside it."""

    def __init__(self, message: str, code: FailureCode):
        super().__init__(message)
        self.code = code

    @classmethod
    def damaged(cls, what: str, error: Exception) -> "ProcessingError":
        """ "This <what> is damaged", with what the parser said about the bytes, but never
        an OS error's text (it can name server paths) and never more than a short line."""
        said = "" if isinstance(error, OSError) else str(error).strip().splitlines()[:1]
        detail = f" ({said[0][:DETAIL_CHARS]})" if said else ""
        return cls(f"This {what} is damaged and cannot be read{detail}.", FailureCode.DAMAGED)


DETAIL_CHARS = 200


@dataclass(frozen=True)
class ProcessingLimits:
    """Guards against hostile files. Those an operator can set have no default here: their
    defaults are in settings (`PROCESSING_LIMITS`, project/settings/processing.py), the one
    place, and the service fills them from there (`processing_limits()`)."""

    max_image_pixels: int
    thumbnail_size: int
    max_bad_rows: int
    # Entries examined in one archive: a tar listing stops there (truncated), a zip whose
    # directory holds more is refused before one entry object is built.
    max_archive_entries: int
    max_archive_ratio: float
    max_archive_uncompressed: int
    # ijson builds a path string per event as long as the nesting: deep nesting is quadratic.
    max_json_depth: int
    # Pillow formats we open (what sniffs as an image and we can thumbnail); any other
    # decoder Pillow ships is never run on user bytes.
    image_formats: tuple[str, ...]
    # Fixed: what a result shows, not a guard an operator tunes.
    preview_lines: int = 10
    preview_chars: int = 2000
    max_archive_entries_listed: int = 100
    json_exact_error_max_bytes: int = 16 * MIB


@dataclass(frozen=True)
class ProcessingSource:
    stream: BinaryIO
    size: int
    name: str
    content_type: str
    chunk_size: int
    # Called with the fraction done (0.0-1.0); the caller decides how often it is published.
    report_progress: Callable[[float], None]
    limits: ProcessingLimits

    def chunks(self) -> Iterator[bytes]:
        """Read the stream from the start in fixed-size chunks, reporting progress."""
        self.stream.seek(0)
        done = 0
        while chunk := self.stream.read(self.chunk_size):
            done += len(chunk)
            yield chunk
            if self.size:
                self.report_progress(min(done / self.size, 1.0))

    def progress_reader(self) -> "ProgressReader":
        """The stream from the start, as a reader that reports progress as it is consumed
        (for processors that parse sequentially: CSV, text, JSON, tar)."""
        self.stream.seek(0)
        return ProgressReader(self.stream, self.size, self.report_progress)


@dataclass
class Result:
    """What a processor found: `fields` are stored as the row's `result` (JSON) and read back
    as the GraphQL result type of the file's kind, one key per field."""

    fields: dict
    thumbnail: bytes | None = None  # WebP, longest side `limits.thumbnail_size`


class Processor(Protocol):
    def __call__(self, source: ProcessingSource) -> Result: ...


class ProgressReader(io.RawIOBase):
    """A read-only, forward-only view of a stream that reports how far it has got."""

    def __init__(self, raw: BinaryIO, size: int, report: Callable[[float], None]):
        self.raw = raw
        self.size = size
        self.report = report
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self._advance(len(data))
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        line = self.raw.readline(limit)
        self._advance(len(line))
        return line

    def _advance(self, count: int) -> None:
        self.consumed += count
        if count and self.size:
            self.report(min(self.consumed / self.size, 1.0))


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
