"""A file bigger than one chunk is read from storage once for both passes: the checksum
hashes what the kind's processor reads on its way, and then only what it did not read.

Through `services.file_process` on the real storage (FileSystemStorage); the stream the
storage gives is wrapped to record every read (offset and length)."""

import hashlib
import io
import os
import random
import zipfile

import pytest
from PIL import Image

from files_app import processors, services, storage
from files_app.exceptions import TransientProcessingError
from files_app.failures import FailureCode
from files_app.models import FileStatus
from files_app.processors import checksum
from files_app.services.processing import processing_limits
from files_app.sizes import MIB
from tests.support.files import make_file, make_processed_file


class RecordedStream(io.RawIOBase):
    """The storage's stream, recording each read as (offset, length); `fail_after`: raise
    OSError once that many bytes were given, as a storage that drops mid-file."""

    def __init__(self, stream, fail_after=None):
        self.stream = stream
        self.reads = []
        self.fail_after = fail_after

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self.stream.seek(offset, whence)

    def tell(self):
        return self.stream.tell()

    def readinto(self, buffer):
        if self.fail_after is not None and self.given() >= self.fail_after:
            raise OSError("I/O error reading the volume")
        offset = self.stream.tell()
        count = self.stream.readinto(buffer)
        self.reads.append((offset, count))
        return count

    def given(self):
        return sum(count for _, count in self.reads)

    def times_read(self, size):
        """How many times each byte was read, as runs of (times, bytes)."""
        changes = [0] * (size + 1)
        for offset, count in self.reads:
            changes[offset] += 1
            changes[offset + count] -= 1
        runs, times = [], 0
        for position in range(size):
            times += changes[position]
            if runs and runs[-1][0] == times:
                runs[-1][1] += 1
            else:
                runs.append([times, 1])
        return runs

    def close(self):
        self.stream.close()
        super().close()


@pytest.fixture
def recorded(monkeypatch):
    streams = []
    open_stream = storage.open_stream

    def recording(name, *, buffer_size, fail_after=None):
        stream = RecordedStream(open_stream(name, buffer_size=buffer_size), fail_after)
        streams.append(stream)
        return stream

    monkeypatch.setattr(storage, "open_stream", recording)
    return streams


def big_csv() -> bytes:
    rows = [b"id,value,label"] + [b"%d,%d.25,label %d" % (i, i, i) for i in range(200_000)]
    content = b"\n".join(rows) + b"\n"
    assert len(content) > 3 * MIB
    return content


def big_zip() -> tuple[bytes, int]:
    """Stored (uncompressed) entries, and where its central directory starts."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for number in range(3):
            archive.writestr(f"part-{number}.bin", random.Random(number).randbytes(MIB))
    content = out.getvalue()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        directory = archive.start_dir
    return content, directory


def big_png() -> bytes:
    pixels = random.Random(7).randbytes(1200 * 1000 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (1200, 1000), pixels).save(out, "PNG", compress_level=0)
    assert len(out.getvalue()) > 3 * MIB
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("make", "name", "kind", "field", "value"),
    [
        (big_csv, "big.csv", "CSV", "row_count", 200_000),
        (big_png, "big.png", "IMAGE", "width", 1200),
    ],
)
def test_a_big_file_its_processor_reads_whole_is_read_from_storage_once(
    user, recorded, make, name, kind, field, value
):
    """CSV parses every byte in order; an image is decoded whole for its thumbnail."""
    content = make()
    file = make_processed_file(user, content, name)
    assert file.kind == kind and file.result[field] == value
    (stream,) = recorded
    assert stream.times_read(len(content)) == [[1, len(content)]]
    assert stream.given() == len(content)


@pytest.mark.django_db(transaction=True)
def test_a_big_zip_reads_again_only_what_its_processor_seeks_back_to(user, recorded):
    """The archive processor reads the directory and end record at the end first (zipfile
    seeks back to them a few times), then the checksum hashes the file in order: only those
    last bytes are read again."""
    content, directory = big_zip()
    file = make_processed_file(user, content, "big.zip")
    assert file.kind == "ARCHIVE" and file.result["entry_count"] == 3
    (stream,) = recorded
    tail = len(content) - directory
    assert stream.times_read(len(content))[0] == [1, directory]
    assert len(content) < stream.given() <= len(content) + 10 * tail


@pytest.mark.django_db(transaction=True)
def test_a_storage_error_mid_processor_is_retried_not_called_damage(user, monkeypatch):
    """The image processor reads first now, and calls an OSError a damaged image; the
    storage's own error still reaches the run, which retries it."""
    open_stream = storage.open_stream
    monkeypatch.setattr(
        storage,
        "open_stream",
        lambda name, *, buffer_size: RecordedStream(
            open_stream(name, buffer_size=buffer_size), fail_after=MIB + 1
        ),
    )
    file = make_file(user, big_png(), name="big.png")
    with pytest.raises(TransientProcessingError):
        services.file_process(file_id=file.pk, retries_left=1)
    services.file_process(file_id=file.pk, retries_left=0)
    file.refresh_from_db()
    assert file.status == FileStatus.FAILED
    assert file.failure_code == FailureCode.STORAGE_UNAVAILABLE


def test_the_checksum_is_the_bytes_in_order_whatever_the_processor_reads():
    """A processor that jumps ahead, reads back and stops half way: the hash is still of the
    bytes in order, and finishing it reads only what the in-order reads did not reach."""
    content = os.urandom(5 * MIB + 123)
    reads = []

    def jumping(source):
        stream, rng = source.stream, random.Random(3)
        for _ in range(50):
            stream.seek(rng.randrange(len(content)))
            reads.append(stream.read(rng.randrange(1, 300_000)))
        stream.seek(0)
        reads.append(stream.read(len(content) // 2))
        return processors.Result(fields={})

    raw = RecordedStream(io.BytesIO(content))
    source = processors.ProcessingSource(
        stream=raw,
        size=len(content),
        name="x.bin",
        content_type="",
        chunk_size=MIB,
        report_progress=lambda fraction: None,
        limits=processing_limits(),
    )
    checking = checksum.start(source)
    with checking.storage_errors_first():
        jumping(processors.ProcessingSource(**{**source.__dict__, "stream": checking.stream}))
    hashed, given = checking.hashed.hashed, raw.given()
    assert hashed >= len(content) // 2
    checked = checking.finish(lambda fraction: None)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    assert checked.size == len(content)
    assert reads[-1] == content[: len(content) // 2]
    assert raw.given() - given == len(content) - hashed
