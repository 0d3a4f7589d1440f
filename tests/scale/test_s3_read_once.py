"""On S3 a file bigger than one chunk is read with one GET when its processor reads it in
order, in-process against moto's server (every S3 call is real HTTP)."""

import io
import zipfile

import pytest

from files_app import storage
from files_app.sizes import MIB
from tests.support.files import make_processed_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gets(s3_settings):
    """The Range of every GetObject the storage's client sends."""
    ranges = []

    def count(params, **kwargs):
        ranges.append(params.get("Range", ""))

    events = storage.s3_client().meta.events
    events.register("before-parameter-build.s3.GetObject", count)
    yield ranges
    events.unregister("before-parameter-build.s3.GetObject", count)


def test_a_big_csv_is_one_get(gets, user):
    content = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(400_000))
    assert len(content) > 3 * MIB
    assert make_processed_file(user, content, "big.csv").kind == "CSV"
    assert gets == ["bytes=0-"]


def test_a_big_zip_reads_its_directory_then_the_rest_in_order(gets, user):
    """What the processor seeks to (the end record, the directory) costs a ranged GET each;
    the checksum's GET starts where hashing stopped, never at 0 again."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for number in range(3):
            archive.writestr(f"part-{number}.bin", bytes([number]) * MIB)
    content = out.getvalue()
    assert make_processed_file(user, content, "big.zip").kind == "ARCHIVE"
    assert gets[0] == "bytes=0-" and gets.count("bytes=0-") == 1
    assert f"bytes={MIB}-" in gets  # the rest after the first buffer, for the checksum
