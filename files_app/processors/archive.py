"""Archives (zip, tar, gzip): entries and sizes from the directory — never extracted.

Zip bombs are caught from the sizes the archive declares (total and ratio); a compressed
tar is read as a stream and stopped as soon as its entries pass the size limit.
"""

import gzip
import os
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field

from .base import ProcessingError, ProcessingResult, ProcessingSource

GZIP_MAGIC = b"\x1f\x8b"
GZIP_FLAG_NAME = 0x08
GZIP_FLAG_EXTRA = 0x04
GZIP_HEADER_BYTES = 10
GZIP_TRAILER_SIZE_BYTES = 4


@dataclass
class Listing:
    format: str
    listed_limit: int
    names: list[str] = field(default_factory=list)
    count: int = 0
    total: int = 0

    def add(self, name: str, size: int) -> None:
        self.count += 1
        self.total += size
        if len(self.names) < self.listed_limit:
            self.names.append(name)


def guard(total: int, compressed: int, limits) -> None:
    if total > limits.max_archive_uncompressed:
        raise ProcessingError(
            f"This archive looks like a decompression bomb: it unpacks to {total:,} bytes, "
            f"more than the {limits.max_archive_uncompressed:,} allowed."
        )
    if total / max(compressed, 1) > limits.max_archive_ratio:
        raise ProcessingError(
            "This archive looks like a decompression bomb: it unpacks to "
            f"{total / max(compressed, 1):,.0f} times its size."
        )


def list_zip(source: ProcessingSource, listing: Listing) -> None:
    with zipfile.ZipFile(source.stream) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                listing.add(info.filename, info.file_size)


def list_tar(source: ProcessingSource, listing: Listing) -> None:
    with tarfile.open(fileobj=source.progress_reader(), mode="r|*") as archive:
        for member in archive:
            if member.isfile():
                listing.add(member.name, member.size)
                if listing.total > source.limits.max_archive_uncompressed:
                    guard(listing.total, source.size, source.limits)


def gzip_member_name(header: bytes, fallback: str) -> str:
    flags = header[3]
    position = GZIP_HEADER_BYTES
    if flags & GZIP_FLAG_EXTRA:
        position += 2 + struct.unpack("<H", header[position:position + 2])[0]
    if flags & GZIP_FLAG_NAME:
        end = header.find(b"\x00", position)
        if end > position:
            return header[position:end].decode("latin-1")
    stem, ext = os.path.splitext(fallback)
    return stem if ext.lower() == ".gz" else fallback


def list_gzip(source: ProcessingSource, listing: Listing) -> None:
    source.stream.seek(0)
    header = source.stream.read(1024)
    source.stream.seek(-GZIP_TRAILER_SIZE_BYTES, os.SEEK_END)
    size = struct.unpack("<I", source.stream.read(GZIP_TRAILER_SIZE_BYTES))[0]
    listing.add(gzip_member_name(header, source.name), size)


def is_tar(source: ProcessingSource) -> bool:
    """A .tar.gz sniffs as gzip: look inside the first block to tell."""
    source.stream.seek(0)
    try:
        with tarfile.open(fileobj=source.stream, mode="r:*") as archive:
            return archive.next() is not None
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return False


def process(source: ProcessingSource) -> ProcessingResult:
    source.stream.seek(0)
    source.report_progress(0.0)
    head = source.stream.read(4)
    limits = source.limits
    try:
        if zipfile.is_zipfile(source.stream):
            listing = Listing("zip", limits.max_archive_entries_listed)
            list_zip(source, listing)
        elif is_tar(source):
            listing = Listing("tar", limits.max_archive_entries_listed)
            list_tar(source, listing)
        elif head.startswith(GZIP_MAGIC):
            listing = Listing("gzip", limits.max_archive_entries_listed)
            list_gzip(source, listing)
        else:
            raise ProcessingError("This archive format is not supported (zip, tar and gzip are).")
    except ProcessingError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, gzip.BadGzipFile,
            zlib.error, EOFError, OSError, struct.error, ValueError) as error:
        raise ProcessingError(f"This archive is damaged ({error}).") from None
    guard(listing.total, source.size, limits)
    source.report_progress(1.0)
    return ProcessingResult(facts={
        "format": listing.format,
        "entry_count": listing.count,
        "total_uncompressed_size": listing.total,
        "compressed_size": source.size,
        "entries": listing.names,
        "entries_truncated": listing.count > len(listing.names),
    })
