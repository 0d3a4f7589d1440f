"""The one signature every processor has, and the helpers they share."""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol


class ProcessingError(Exception):
    """A permanent failure whose message is shown to the user as the file's `error`."""


@dataclass(frozen=True)
class ProcessingSource:
    stream: BinaryIO
    size: int
    name: str
    chunk_size: int
    # Called with the fraction done (0.0-1.0); the caller decides how often it is published.
    report_progress: Callable[[float], None]

    def chunks(self) -> Iterator[bytes]:
        """Read the stream in fixed-size chunks, reporting progress as bytes go by."""
        done = 0
        while chunk := self.stream.read(self.chunk_size):
            done += len(chunk)
            yield chunk
            if self.size:
                self.report_progress(min(done / self.size, 1.0))


class Processor(Protocol):
    def __call__(self, source: ProcessingSource) -> dict: ...


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
