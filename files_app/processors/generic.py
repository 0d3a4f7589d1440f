"""The processor every file gets: size, sniffed content type and SHA-256, in one pass."""

from .base import ProcessingError, ProcessingSource, sha256_of
from .sniff import SNIFF_BYTES, sniff_content_type


def process(source: ProcessingSource) -> dict:
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
            f"The stored file has {size} bytes but {source.size} were uploaded; upload it again."
        )
    return {"sha256": sha256, "content_type": sniff_content_type(head), "size": size}
