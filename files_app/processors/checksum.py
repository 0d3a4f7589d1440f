"""The pass every file gets: size, SHA-256, content type and kind, in one read."""

from dataclasses import dataclass

from ..failures import FailureCode
from .base import ProcessingError, ProcessingSource, sha256_of
from .sniff import SNIFF_BYTES, sniff


@dataclass(frozen=True)
class Checksum:
    sha256: str
    size: int
    content_type: str
    kind: str


def process(source: ProcessingSource) -> Checksum:
    head = b""
    size = 0

    def counted():
        nonlocal head, size
        for chunk in source.chunks():
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            size += len(chunk)
            yield chunk

    sha256 = sha256_of(counted())
    if size != source.size:
        raise ProcessingError(
            f"The stored file has {size} bytes but {source.size} were uploaded; upload it again.",
            FailureCode.SIZE_MISMATCH,
        )
    sniffed = sniff(head, source.name)
    return Checksum(sha256=sha256, size=size, content_type=sniffed.content_type, kind=sniffed.kind)
