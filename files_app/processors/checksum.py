"""The pass every file gets: size, SHA-256, content type and kind.

It rides on the kind's processor's reads, so the stored bytes are read once: `start` sniffs
the first bytes and hands out a stream (`HashedStream`) that hashes each byte the storage gives
it, in order, as far as the reads go on from where hashing stopped; `finish` then reads and
hashes the rest, from where hashing stopped to the end. A processor that reads the whole file
(CSV, text, JSON) leaves nothing; one that seeks (a zip's directory at the end) leaves the
rest, so only what it read out of order is read twice.
"""

import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ..failures import FailureCode
from ..streams import PositionedReader
from .base import ProcessingError, ProcessingSource
from .sniff import SNIFF_BYTES, Sniffed, sniff


@dataclass(frozen=True)
class Checksum:
    sha256: str
    size: int
    content_type: str
    kind: str


class HashedStream(PositionedReader):
    """A seekable view of the stored stream whose reads feed SHA-256 while they continue
    from `hashed`, the offset hashing has reached; a read elsewhere (behind it, or past it
    after a seek) is given as it is and hashed later, by `finish`, in order.

    Keeps the first storage error it met (`error`): processors turn an OSError into
    "damaged", and a storage that failed must be retried, not blamed on the file. Closing
    it leaves the stored stream open (its opener closes it; `finish` still reads it)."""

    def __init__(self, stream: BinaryIO):
        super().__init__()
        self.stream = stream
        stream.seek(0, io.SEEK_END)
        self.size = stream.tell()
        stream.seek(0)
        self.at = 0  # the stored stream's position
        self.position = 0
        self.hashed = 0
        self.digest = hashlib.sha256()
        self.error: OSError | None = None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.target(offset, whence)
        return self.position

    def readinto(self, buffer) -> int:
        try:
            if self.at != self.position:
                self.stream.seek(self.position)
                self.at = self.position
            count = self.stream.readinto(buffer)
        except OSError as error:
            self.error = self.error or error
            raise
        start, self.position = self.position, self.position + count
        self.at = self.position
        if start <= self.hashed < self.position:
            self.digest.update(memoryview(buffer)[self.hashed - start : count])
            self.hashed = self.position
        return count

    def rest(self, chunk_size: int) -> Iterator[int]:
        """Hash what no read reached, from `hashed` to the end, yielding the offset."""
        self.stream.seek(self.hashed)
        self.at = self.hashed
        while chunk := self.stream.read(chunk_size):
            self.digest.update(chunk)
            self.hashed += len(chunk)
            self.at = self.hashed
            yield self.hashed


def check_size(size: int, source: ProcessingSource) -> None:
    if size != source.size:
        raise ProcessingError(
            f"The stored file has {size} bytes but {source.size} were uploaded; upload it again.",
            FailureCode.SIZE_MISMATCH,
        )


@dataclass(frozen=True)
class Checking:
    """The pass under way: `stream` is what the kind's processor reads (buffered in
    `chunk_size` pieces), `sniffed` what its first bytes are."""

    source: ProcessingSource
    hashed: HashedStream
    stream: BinaryIO
    sniffed: Sniffed

    @contextmanager
    def storage_errors_first(self):
        """A storage error the processor met is raised as itself, whatever the processor
        made of it."""
        try:
            yield
        except Exception as error:
            if self.hashed.error is not None:
                raise self.hashed.error from error
            raise
        if self.hashed.error is not None:
            raise self.hashed.error

    def finish(self, report: Callable[[float], None]) -> Checksum:
        """Hash the rest, reporting the share of the file hashed."""
        size = self.hashed.size
        for hashed in self.hashed.rest(self.source.chunk_size):
            report(min(hashed / size, 1.0))
        check_size(self.hashed.hashed, self.source)
        return Checksum(
            sha256=self.hashed.digest.hexdigest(),
            size=self.hashed.hashed,
            content_type=self.sniffed.content_type,
            kind=self.sniffed.kind,
        )


def start(source: ProcessingSource) -> Checking:
    """Check the stored size (refused before any processor reads a truncated file) and sniff
    the first bytes, which the buffer keeps for the processor."""
    hashed = HashedStream(source.stream)
    check_size(hashed.size, source)
    buffer_size = max(min(source.chunk_size, hashed.size), SNIFF_BYTES)
    stream = io.BufferedReader(hashed, buffer_size=buffer_size)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    return Checking(source, hashed, stream, sniff(head, source.name))
