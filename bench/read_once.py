"""Bytes read from storage, and time, to process a big file as the worker does.

    .venv/bin/python bench/read_once.py [--megabytes 40] [--rounds 3]

Generates a CSV (read whole by its processor), a zip of stored entries (its processor reads
the directory at the end) and random bytes (no processor: the checksum alone), each
`--megabytes` large, and runs each through the worker's code (`read_once` over the stored
file, then `processors.run`) on a local file, counting the bytes the storage stream gave. The
figure to watch is bytes read / file size: 1.0 is each byte read once. Best time of
`--rounds`.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.csv_memory import make_csv

MIB = 1024 * 1024


class CountedReader(io.RawIOBase):
    """A stored file that counts the bytes it gives."""

    def __init__(self, path: Path):
        self.file = path.open("rb", buffering=0)
        self.given = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def readinto(self, buffer) -> int:
        count = self.file.readinto(buffer)
        self.given += count
        return count

    def close(self) -> None:
        self.file.close()
        super().close()


def make_zip(path: Path, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number in range(megabytes):
            archive.writestr(f"part-{number:04d}.bin", os.urandom(MIB))


def make_binary(path: Path, megabytes: int) -> None:
    with path.open("wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(MIB))


def process(path: Path, name: str) -> dict:
    from files_app import processors
    from files_app.services.processing import processing_limits, read_once

    reader = CountedReader(path)
    started = time.perf_counter()
    with io.BufferedReader(reader, buffer_size=MIB) as stream:
        checked, _ = processors.run(
            processors.ProcessingSource(
                stream=read_once(stream),
                size=path.stat().st_size,
                name=name,
                content_type="",
                chunk_size=MIB,
                report_progress=lambda fraction: None,
                limits=processing_limits(),
            )
        )
    return {
        "seconds": time.perf_counter() - started,
        "read": reader.given,
        "kind": checked.kind,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    makers = {"big.csv": make_csv, "big.zip": make_zip, "big.bin": make_binary}
    with tempfile.TemporaryDirectory() as directory:
        for name, make in makers.items():
            path = Path(directory) / name
            make(path, args.megabytes)
            runs = [process(path, name) for _ in range(args.rounds)]
            best = min(runs, key=lambda run: run["seconds"])
            size = path.stat().st_size
            figures = {
                "file": name,
                "kind": best["kind"],
                "mib": round(size / MIB, 1),
                "read_per_size": round(best["read"] / size, 4),
                "seconds": round(best["seconds"], 3),
                "mib_per_second": round(size / MIB / best["seconds"], 1),
            }
            print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
