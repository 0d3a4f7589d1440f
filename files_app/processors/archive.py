"""Archives (zip, tar, gzip): entries and sizes from the directory — never extracted.

Zip bombs are caught from the sizes the archive declares (total and ratio); a compressed
tar is read as a stream and stopped as soon as its entries pass the size limit.

The number of entries is bounded too, since empty entries pass the size checks: a tar is
listed up to `max_archive_entries` (then reported truncated) without keeping the entries it
has passed; a zip's directory is counted before `zipfile` builds an object for every entry
(it reads the whole directory at once, so it cannot stop part way), and refused above it.
"""

import gzip
import os
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field

from ..failures import FailureCode
from .base import ProcessingError, ProcessingSource, Result

GZIP_MAGIC = b"\x1f\x8b"
GZIP_FLAG_NAME = 0x08
GZIP_FLAG_EXTRA = 0x04
GZIP_HEADER_BYTES = 10
GZIP_TRAILER_SIZE_BYTES = 4
ZIP_CENTRAL_SIGNATURE = b"PK\x01\x02"
ZIP_CENTRAL_HEADER_BYTES = 46
ZIP_CENTRAL_LENGTHS_AT = 28  # file name, extra field and comment lengths (3 × uint16)


@dataclass
class Listing:
    format: str
    listed_limit: int
    names: list[str] = field(default_factory=list)
    count: int = 0
    total: int = 0
    truncated: bool = False  # stopped at `max_archive_entries`: count and total are partial

    def add(self, name: str, size: int) -> None:
        self.count += 1
        self.total += size
        if len(self.names) < self.listed_limit:
            self.names.append(name)


def guard(total: int, compressed: int, limits) -> None:
    if total > limits.max_archive_uncompressed:
        raise ProcessingError(
            f"This archive looks like a decompression bomb: it unpacks to {total:,} bytes, "
            f"more than the {limits.max_archive_uncompressed:,} allowed.",
            FailureCode.TOO_COMPLEX,
        )
    if total / max(compressed, 1) > limits.max_archive_ratio:
        raise ProcessingError(
            "This archive looks like a decompression bomb: it unpacks to "
            f"{total / max(compressed, 1):,.0f} times its size.",
            FailureCode.TOO_COMPLEX,
        )


def zip_directory_entries(stream, most: int) -> int:
    """Entries in a zip's central directory, counted up to `most` + 1 without building them.

    Walks the same records `zipfile` reads, from where it finds them (`_EndRecData` is its
    own reader of the end record), so the count is what it would build, whatever the end
    record claims. A malformed directory stops the count; `zipfile` then says it is damaged.
    """
    end = zipfile._EndRecData(stream)
    if not end:
        return 0
    size = end[zipfile._ECD_SIZE]
    start = end[zipfile._ECD_LOCATION] - size
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    stream.seek(max(start, 0))
    count = walked = 0
    while walked < size and count <= most:
        header = stream.read(ZIP_CENTRAL_HEADER_BYTES)
        if len(header) < ZIP_CENTRAL_HEADER_BYTES or not header.startswith(ZIP_CENTRAL_SIGNATURE):
            break
        skip = sum(struct.unpack_from("<3H", header, ZIP_CENTRAL_LENGTHS_AT))
        stream.seek(skip, os.SEEK_CUR)
        walked += ZIP_CENTRAL_HEADER_BYTES + skip
        count += 1
    return count


def list_zip(source: ProcessingSource, listing: Listing) -> None:
    most = source.limits.max_archive_entries
    if zip_directory_entries(source.stream, most) > most:
        raise ProcessingError(
            f"This archive has more than {most:,} entries, more than we list.",
            FailureCode.TOO_COMPLEX,
        )
    source.stream.seek(0)
    with zipfile.ZipFile(source.stream) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                listing.add(info.filename, info.file_size)


def list_tar(source: ProcessingSource, listing: Listing) -> None:
    """`tarfile` appends every member it reads to `.members`, even in stream mode: they are
    dropped as the listing goes, and it stops after `max_archive_entries` of any type."""
    examined = 0
    with tarfile.open(fileobj=source.progress_reader(), mode="r|*") as archive:
        while (member := archive.next()) is not None:
            archive.members.clear()
            examined += 1
            if examined > source.limits.max_archive_entries:
                listing.truncated = True
                return
            if member.isfile():
                listing.add(member.name, member.size)
                if listing.total > source.limits.max_archive_uncompressed:
                    guard(listing.total, source.size, source.limits)


def gzip_member_name(header: bytes, fallback: str) -> str:
    flags = header[3]
    position = GZIP_HEADER_BYTES
    if flags & GZIP_FLAG_EXTRA:
        position += 2 + struct.unpack("<H", header[position : position + 2])[0]
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


def process(source: ProcessingSource) -> Result:
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
            raise ProcessingError(
                "This archive format is not supported (zip, tar and gzip are).",
                FailureCode.UNSUPPORTED,
            )
    except ProcessingError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        tarfile.TarError,
        gzip.BadGzipFile,
        zlib.error,
        EOFError,
        OSError,
        struct.error,
        ValueError,
    ) as error:
        raise ProcessingError.damaged("archive", error) from None
    guard(listing.total, source.size, limits)
    source.report_progress(1.0)
    return Result(
        fields={
            "format": listing.format,
            "entry_count": listing.count,
            "total_uncompressed_size": listing.total,
            "compressed_size": source.size,
            "entries": listing.names,
            "entries_truncated": listing.count > len(listing.names),
            "listing_truncated": listing.truncated,
        }
    )
