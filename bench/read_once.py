"""Bytes read from storage, and time, to process a big file as the worker does.

    .venv/bin/python bench/read_once.py [--megabytes 40] [--rounds 3] [--s3]

Generates a CSV (read whole by its processor), a zip of stored entries (its processor reads
the directory at the end) and random bytes (no processor: the checksum alone), each
`--megabytes` large, and runs each through the worker's code (`read_once` over the stored
file, then `processors.run`) on a local file, counting the bytes the storage stream gave. The
figure to watch is bytes read / file size: 1.0 is each byte read once. Best time of
`--rounds`. `--s3`: the same files in a bucket of moto's server (`bench/s3.py`), through
`storage.open_stream`, counting the GETs instead.
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


def checked_through(stream, path: Path, name: str):
    """The file's checksum, its stored `stream` run through `processors.run` as a worker
    runs it."""
    from files_app import processors
    from files_app.services.processing import processing_limits, read_once

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
    return checked


def process(path: Path, name: str) -> dict:

    reader = CountedReader(path)
    started = time.perf_counter()
    with io.BufferedReader(reader, buffer_size=MIB) as stream:
        checked = checked_through(stream, path, name)
    return {
        "seconds": time.perf_counter() - started,
        "read": reader.given,
        "kind": checked.kind,
    }


def process_on_s3(path: Path, name: str) -> dict:
    from django.core.files.storage import default_storage

    from files_app import storage

    key = default_storage.save(f"bench/{name}", path.open("rb"))
    gets = []
    events = storage.s3_client().meta.events

    def count(params, **kwargs):
        gets.append(params.get("Range", ""))

    events.register("before-parameter-build.s3.GetObject", count)
    started = time.perf_counter()
    try:
        with storage.open_stream(key, buffer_size=MIB) as stream:
            checked = checked_through(stream, path, name)
    finally:
        events.unregister("before-parameter-build.s3.GetObject", count)
        default_storage.delete(key)
    return {
        "seconds": time.perf_counter() - started,
        "gets": len(gets),
        "from_zero": gets.count("bytes=0-"),
        "kind": checked.kind,
    }


def on_moto(work: Path):
    """moto's server, and this process's storage pointed at a bucket in it."""
    from bench.s3 import BUCKET, CREDENTIALS, MotoServer

    moto = MotoServer(work)
    moto.client().create_bucket(Bucket=BUCKET)
    os.environ.update({**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": BUCKET})
    os.environ["AWS_S3_ENDPOINT_URL"] = moto.url
    return moto


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--s3", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DEBUG", "1")
    makers = {"big.csv": make_csv, "big.zip": make_zip, "big.bin": make_binary}
    with tempfile.TemporaryDirectory() as directory:
        moto = on_moto(Path(directory)) if args.s3 else None
        import django

        django.setup()
        try:
            for name, make in makers.items():
                path = Path(directory) / name
                make(path, args.megabytes)
                run = process_on_s3 if moto else process
                runs = [run(path, name) for _ in range(args.rounds)]
                print(json.dumps(figures(path, name, runs)), flush=True)
        finally:
            if moto:
                moto.stop()


def figures(path: Path, name: str, runs: list[dict]) -> dict:
    best = min(runs, key=lambda run: run["seconds"])
    size = path.stat().st_size
    found = {"file": name, "kind": best["kind"], "mib": round(size / MIB, 1)}
    if "read" in best:
        found["read_per_size"] = round(best["read"] / size, 4)
    else:
        found["gets"], found["gets_from_zero"] = best["gets"], best["from_zero"]
    return found | {
        "seconds": round(best["seconds"], 3),
        "mib_per_second": round(size / MIB / best["seconds"], 1),
    }


if __name__ == "__main__":
    main()
