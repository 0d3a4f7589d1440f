"""A corpus of hostile files, generated the same way every time (no binaries checked in).

Each is small on disk and built to cost a naive processor far more than its size: memory
(tar members kept, zip directory objects, a CSV record that never ends, decoded pixels) or
time (deep JSON). `python tests/hostile/generate.py DIR` writes them to DIR; the tests call
`CORPUS` directly. `expected` is the status a file must end in.
"""

import gzip
import io
import struct
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

MIB = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[], bytes]
    expected: str  # "DONE" or "FAILED"
    why: str
    error: str = ""  # part of the message a FAILED file must end with


def csv_never_ending() -> bytes:
    """After 10 KB of rows (what the sniffer sees), one record of a million quoted line
    breaks: csv.reader would hold it whole."""
    return b"a,b\n" + b"1,2\n" * 2_500 + b'"x\n",' * 1_000_000


def csv_many_columns() -> bytes:
    return (",".join(f"c{i}" for i in range(200_000)) + "\n").encode() * 3


def tar_many_entries(count: int = 60_000) -> bytes:
    """Empty entries pass every size and ratio check; tarfile keeps each one it reads."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(count):
            info = tarfile.TarInfo(f"e{i}")
            info.mtime = 0
            tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def zip_many_directories(count: int = 60_000) -> bytes:
    """zipfile builds one ZipInfo per directory entry when it opens the archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            archive.writestr(zipfile.ZipInfo(f"d{i}/", date_time=(1980, 1, 1, 0, 0, 0)), b"")
    return buffer.getvalue()


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("zeros", date_time=(1980, 1, 1, 0, 0, 0)),
            b"\x00" * (200 * MIB),
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return buffer.getvalue()


def json_deep(depth: int = 200_000) -> bytes:
    """ijson's time grows with the square of the nesting; json.loads would recurse."""
    return b"[" * depth + b"]" * depth


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_pixel_bomb(side: int = 100_000) -> bytes:
    """A 10-gigapixel canvas declared in a valid header over a few bytes of data."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def icon() -> bytes:
    """Sniffed as an image, but a format outside the allowlist (IMAGE_FORMATS)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, "ICO")
    return buffer.getvalue()


def pdf_page_tree_loop() -> bytes:
    """A page tree whose Pages node lists itself as its own kid."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1000000000 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def text_one_line(size: int = 32 * MIB) -> bytes:
    """No line break in 32 MiB: a reader that goes line by line would hold it all."""
    return b"word " * (size // 5)


CORPUS = [
    Hostile(
        "never-ending.csv",
        csv_never_ending,
        "FAILED",
        "a record that never ends",
        "too large or too complex",
    ),
    Hostile("wide.csv", csv_many_columns, "FAILED", "200,000 columns", "columns"),
    Hostile("many-entries.tar.gz", tar_many_entries, "DONE", "60,000 empty entries"),
    Hostile(
        "many-directories.zip",
        zip_many_directories,
        "FAILED",
        "60,000 directories",
        "more than 10,000 entries",
    ),
    Hostile("bomb.zip", zip_bomb, "FAILED", "200 MiB of zeros in 200 KiB", "decompression bomb"),
    Hostile("deep.json", json_deep, "FAILED", "nested 200,000 deep", "nested more than"),
    Hostile(
        "pixel-bomb.png",
        png_pixel_bomb,
        "FAILED",
        "100,000 × 100,000 pixels declared",
        "too large to process safely",
    ),
    Hostile(
        "icon.ico",
        icon,
        "FAILED",
        "an image format outside the allowlist",
        "not an image we can read",
    ),
    Hostile(
        "loop.pdf",
        pdf_page_tree_loop,
        "FAILED",
        "a page tree that contains itself",
        "PDF is damaged",
    ),
    Hostile("one-line.txt", text_one_line, "DONE", "32 MiB without a line break"),
]


def main(directory: str) -> None:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for hostile in CORPUS:
        data = hostile.build()
        (out / hostile.name).write_bytes(data)
        print(f"{hostile.name:24} {len(data):>12,} bytes  {hostile.why}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
