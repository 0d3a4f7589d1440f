"""Processors on real, generated samples, including broken and hostile ones (no database)."""

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import replace

import pytest
from PIL import Image

from files_app.failures import FailureCode
from files_app.processors import (
    Checksum,
    ProcessingError,
    ProcessingLimits,
    ProcessingSource,
    archive,
    audio,
    checksum,
    csv_file,
    image,
    json_file,
    pdf,
    run,
    sniff_content_type,
    text,
)
from files_app.services.processing import processing_limits
from files_app.sizes import MIB
from tests.support import samples


def source(data: bytes, name="sample", limits=None, progress=None) -> ProcessingSource:
    return ProcessingSource(
        stream=io.BytesIO(data),
        size=len(data),
        name=name,
        content_type="",
        chunk_size=4096,
        report_progress=(progress if progress is not None else [].append),
        limits=limits or processing_limits(),
    )


def limits_with(**changes) -> ProcessingLimits:
    """The limits settings give the worker, with `changes`."""
    return replace(processing_limits(), **changes)


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = "Canon", "EOS R5", 6
    exif.get_ifd(0x8769)[36867] = "2024:05:06 07:08:09"
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 800), (10, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_image_result_exif_and_a_rotated_thumbnail():
    result = image.process(source(jpeg_with_exif()))
    assert result.fields == {
        "format": "JPEG",
        "width": 1200,
        "height": 800,
        "mode": "RGB",
        "animated": False,
        "frames": 1,
        "camera": "Canon EOS R5",
        "taken_at": "2024-05-06T07:08:09",
        "orientation": 6,
    }
    thumbnail = Image.open(io.BytesIO(result.thumbnail))
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (171, 256)  # orientation 6: rotated to portrait, longest side 256


def test_animated_gif_counts_frames():
    frames = [Image.new("RGB", (20, 20), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    fields = image.process(source(buffer.getvalue())).fields
    assert (fields["animated"], fields["frames"]) == (True, 3)


def test_small_images_are_not_upscaled():
    thumbnail = image.process(source(samples.png(40, 30))).thumbnail
    assert Image.open(io.BytesIO(thumbnail)).size == (40, 30)


def test_pixel_bomb_fails_before_decoding():
    limits = limits_with(max_image_pixels=1_000_000)
    with pytest.raises(ProcessingError, match="decompression bomb") as raised:
        image.process(source(samples.png(2000, 2000), limits=limits))
    assert raised.value.code == FailureCode.TOO_COMPLEX


@pytest.mark.parametrize("data", [samples.truncated_jpeg(), b"\x89PNG\r\n\x1a\n" + b"x" * 100])
def test_damaged_images_fail_clearly(data):
    with pytest.raises(ProcessingError, match="damaged|not an image") as raised:
        image.process(source(data))
    assert raised.value.code in (FailureCode.DAMAGED, FailureCode.UNSUPPORTED)


def test_csv_types_nulls_header_and_bad_rows():
    data = (
        b"id;score;ok;when;note\n1;1.5;true;2024-01-02;a\n2;;false;2024-02-03;\n"
        b"3;2;yes;2024-03-04;c\n4;x;y\n"
    )
    fields = csv_file.process(source(data)).fields
    assert (fields["delimiter"], fields["has_header"], fields["row_count"]) == (";", True, 3)
    assert fields["columns"] == [
        {"name": "id", "type": "int", "nulls": 0},
        {"name": "score", "type": "float", "nulls": 1},
        {"name": "ok", "type": "bool", "nulls": 0},
        {"name": "when", "type": "date", "nulls": 0},
        {"name": "note", "type": "text", "nulls": 1},
    ]
    assert fields["bad_rows"] == [{"line": 5, "reason": "expected 5 fields, found 3"}]


def test_csv_mixed_encodings_report_the_undecodable_line_and_go_on():
    data = "name,city\nZoë,Zürich\n".encode() + b"Bad,\xff\xfe\n" + "Åsa,Malmö\n".encode()
    fields = csv_file.process(source(data)).fields
    assert fields["encoding"] == "utf-8"
    assert fields["row_count"] == 2
    assert fields["bad_rows"] == [
        {"line": 3, "reason": "bytes that are not valid utf-8 on this line"}
    ]


def test_csv_latin1_is_detected():
    data = ("nom,ville\n" + "Jérôme,Besançon\nAnaïs,Orléans\nÉlodie,Nîmes\n" * 20).encode("cp1252")
    fields = csv_file.process(source(data)).fields
    assert fields["encoding"] in ("cp1252", "latin_1", "iso8859_15", "cp1250")
    assert fields["row_count"] == 60 and fields["bad_row_count"] == 0


def test_csv_bad_row_list_is_capped_but_counted():
    data = b"a,b\n" + b"1,2\n" + b"1,2,3\n" * 250
    fields = csv_file.process(source(data, limits=limits_with(max_bad_rows=100))).fields
    assert len(fields["bad_rows"]) == 100 and fields["bad_row_count"] == 250


def test_csv_quoted_newlines_are_one_row():
    fields = csv_file.process(source(b'a,b\n1,"two\nlines"\n3,4\n')).fields
    assert fields["row_count"] == 2 and fields["bad_row_count"] == 0


def test_text_counts():
    fields = text.process(source("première ligne\nsecond line here\nlast".encode())).fields
    assert (fields["line_count"], fields["word_count"], fields["character_count"]) == (3, 6, 36)
    assert fields["preview"].startswith("première ligne\nsecond")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"top_level_type": "object", "key_count": 2}),
        ([1, {"x": 2}, [3]], {"top_level_type": "array", "item_count": 3}),
        ("text", {"top_level_type": "string"}),
    ],
)
def test_json_valid(document, expected):
    fields = json_file.process(source(json.dumps(document).encode())).fields
    assert fields["valid"] is True
    assert {key: fields[key] for key in expected} == expected


def test_json_invalid_reports_line_and_column():
    fields = json_file.process(source(b'{\n  "a": 1,\n  "b": oops\n}')).fields
    assert fields["valid"] is False
    assert (fields["error_line"], fields["error_column"]) == (3, 8)


def test_json_trailing_garbage_is_invalid():
    assert json_file.process(source(b'{"a": 1} extra')).fields["valid"] is False


def test_large_invalid_json_is_reported_without_loading_it_whole():
    limits = limits_with(json_exact_error_max_bytes=10)
    fields = json_file.process(source(b"[1, 2, oops]", limits=limits)).fields
    assert fields["valid"] is False and fields["error"] and fields["error_line"] is None


def test_pdf_metadata():
    fields = pdf.process(source(samples.pdf("Plan", pages=2))).fields
    assert (fields["page_count"], fields["title"], fields["author"], fields["encrypted"]) == (
        2,
        "Plan",
        "Alice",
        False,
    )


@pytest.mark.parametrize("data", [b"%PDF-1.7\n garbage", samples.pdf()[:200]])
def test_broken_pdfs_fail_clearly(data):
    with pytest.raises(ProcessingError, match="PDF is damaged"):
        pdf.process(source(data))


def test_tar_gz_and_gzip():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in {"a.txt": b"aaa", "b/c.txt": b"cc"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    fields = archive.process(source(buffer.getvalue())).fields
    assert (fields["format"], fields["entry_count"], fields["total_uncompressed_size"]) == (
        "tar",
        2,
        5,
    )
    single = gzip.compress(b"hello world" * 3)
    fields = archive.process(source(single, name="greeting.txt.gz")).fields
    assert (fields["format"], fields["entries"], fields["total_uncompressed_size"]) == (
        "gzip",
        ["greeting.txt"],
        33,
    )


def test_archive_entry_list_is_capped():
    many = samples.zip_archive({f"f{i}.txt": b"x" for i in range(150)})
    fields = archive.process(source(many)).fields
    assert fields["entry_count"] == 150 and len(fields["entries"]) == 100
    assert fields["entries_truncated"] is True


def test_zip_bomb_and_total_size_limit():
    bomb = samples.zip_archive({"zeros": b"\x00" * (5 * MIB)})
    with pytest.raises(ProcessingError, match="decompression bomb") as raised:
        archive.process(source(bomb))
    assert raised.value.code == FailureCode.TOO_COMPLEX
    small = samples.zip_archive({"a": bytes(range(256)) * 40})
    with pytest.raises(ProcessingError, match="decompression bomb"):
        archive.process(source(small, limits=limits_with(max_archive_uncompressed=1000)))


def test_corrupt_zip_fails_clearly():
    data = samples.zip_archive({"a.txt": b"a" * 100})
    with pytest.raises(ProcessingError, match="damaged") as raised:
        archive.process(source(data[:40] + b"\x00" * 20 + data[60:]))
    assert raised.value.code == FailureCode.DAMAGED


def test_audio_wav():
    fields = audio.process(source(samples.wav(seconds=2, rate=8000))).fields
    assert (fields["format"], fields["sample_rate"], fields["channels"]) == ("WAVE", 8000, 1)
    assert fields["duration_seconds"] == pytest.approx(2.0, abs=0.01)


def test_corrupt_audio_fails_clearly():
    with pytest.raises(ProcessingError, match="audio") as raised:
        audio.process(source(b"RIFF\x10\x00\x00\x00WAVEjunk"))
    assert raised.value.code == FailureCode.DAMAGED


def test_run_progress_rises_to_one():
    seen = []
    checked, _ = run(source(samples.csv_with_bad_rows(), name="x.csv", progress=seen.append))
    assert checked.kind == "CSV"
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_every_result_is_bounded_whatever_the_file_claims(monkeypatch):
    """In UTF-8 bytes, not characters: 1,000 emoji would be 4,000 bytes (and 12,000 of
    JSON with `ensure_ascii`)."""
    from files_app import processors
    from files_app.processors import MAX_RESULT_ITEMS, MAX_RESULT_STRING_BYTES, Result

    claimed = {
        "title": "t" * 100_000,
        "author": "\N{GRINNING FACE}" * 1_000,
        "tags": [{"key": "k" * 5_000, "value": "é" * 1_000}] * 10_000,
        "nested": {str(i): i for i in range(10_000)},
        "count": 3,
    }
    monkeypatch.setitem(
        processors.PROCESSORS, processors.FileKind.TEXT, lambda source: Result(fields=claimed)
    )
    kept = processors.run(source(b"plain words\n" * 10, name="notes.txt"))[1].fields

    def size(text):
        return len(text.encode())

    assert size(kept["title"]) == MAX_RESULT_STRING_BYTES and kept["title"].endswith("…")
    assert MAX_RESULT_STRING_BYTES - 4 < size(kept["author"]) <= MAX_RESULT_STRING_BYTES
    assert set(kept["author"][:-1]) == {"\N{GRINNING FACE}"}  # whole characters only
    assert len(kept["tags"]) == MAX_RESULT_ITEMS
    assert size(kept["tags"][0]["key"]) == MAX_RESULT_STRING_BYTES
    assert size(kept["tags"][0]["value"]) <= MAX_RESULT_STRING_BYTES
    assert len(kept["nested"]) == MAX_RESULT_ITEMS and kept["count"] == 3


def test_a_csv_record_that_never_ends_is_refused_in_bounded_memory():
    """Many quoted fields each holding a line break never end a record: csv.reader would
    keep them all (about 14× the input)."""
    import tracemalloc

    from files_app.processors import csv_file

    hostile = b"a,b\n" + b'"x\n",' * 1_000_000  # 5 MB, one record
    tracemalloc.start()
    with pytest.raises(ProcessingError, match="too large or too complex"):
        csv_file.process(source(hostile, name="bomb.csv"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 32 * MIB, f"peak {peak / 2**20:.0f} MiB"


def test_a_csv_with_too_many_columns_is_refused():
    from files_app.processors import csv_file

    wide = (",".join(f"c{i}" for i in range(csv_file.MAX_COLUMNS + 1)) + "\n").encode() * 3
    with pytest.raises(ProcessingError, match="columns"):
        csv_file.process(source(wide, name="wide.csv"))


def peak_memory(action) -> int:
    """Bytes allocated at the peak while `action` runs (Python allocations: tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_tar_with_many_entries_is_listed_in_bounded_memory():
    """Empty entries pass every size check, and tarfile keeps each member it reads: 40,000
    took ~18 MiB. With the entry limit out of the way, memory must not grow with them; with
    the default limit, the listing stops there and says so."""
    from tests.hostile.generate import tar_many_entries

    data = tar_many_entries(40_000)
    results = []
    unlimited = limits_with(max_archive_entries=100_000)
    peak = peak_memory(lambda: results.append(archive.process(source(data, limits=unlimited))))
    fields = results[0].fields
    assert (fields["entry_count"], fields["listing_truncated"]) == (40_000, False)
    assert peak < 4 * MIB, f"peak {peak / 2**20:.1f} MiB"
    fields = archive.process(source(data)).fields
    assert fields["listing_truncated"] is True
    assert fields["entry_count"] == processing_limits().max_archive_entries


def test_a_tar_under_the_entry_limit_is_listed_whole():
    from tests.hostile.generate import tar_many_entries

    fields = archive.process(source(tar_many_entries(50))).fields
    assert (fields["entry_count"], fields["listing_truncated"]) == (50, False)


def test_a_zip_with_many_directory_entries_is_refused_before_it_is_read():
    """zipfile builds one ZipInfo per entry, directories included (~10 MiB for 20,000)."""
    from tests.hostile.generate import zip_many_directories

    data = zip_many_directories(20_000)

    def refused():
        with pytest.raises(ProcessingError, match="more than 10,000 entries"):
            archive.process(source(data))

    peak = peak_memory(refused)
    assert peak < 8 * MIB, f"peak {peak / 2**20:.1f} MiB"


def test_a_zip_that_understates_its_entries_is_still_refused():
    """The directory is counted, not the end record's claim (zipfile ignores the claim)."""
    from tests.hostile.generate import zip_many_directories

    data = bytearray(zip_many_directories(20_000))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\x01\x00\x01\x00"  # entries on this disk, entries in all: 1
    with pytest.raises(ProcessingError, match="more than 10,000 entries"):
        archive.process(source(bytes(data)))
    small = samples.zip_archive({f"f{i}.txt": b"x" for i in range(30)})
    assert (
        archive.process(source(small, limits=limits_with(max_archive_entries=30))).fields[
            "entry_count"
        ]
        == 30
    )


def test_deeply_nested_json_fails_quickly_in_bounded_memory():
    """200,000 `[`: ijson.parse built a path per event as long as the nesting (10 GiB)."""
    from tests.hostile.generate import json_deep

    data = json_deep(200_000)

    def refused():
        with pytest.raises(ProcessingError, match="nested more than 64 levels"):
            json_file.process(source(data))

    assert peak_memory(refused) < 16 * MIB
    nested = b"[" * 64 + b"]" * 64
    assert json_file.process(source(nested)).fields["valid"] is True


def test_json_counts_keys_and_items_of_the_top_level_only():
    document = json.dumps({"a": [1, 2, {"b": 3}], "c": {"d": [4]}, "e": None}).encode()
    assert json_file.process(source(document)).fields["key_count"] == 3
    document = json.dumps([[1, 2], {"x": [3, 4]}, "s", 5, None, True]).encode()
    assert json_file.process(source(document)).fields["item_count"] == 6


def test_an_image_format_outside_the_allowlist_is_refused():
    from tests.hostile.generate import icon

    with pytest.raises(ProcessingError, match="not an image we can read: we accept JPEG"):
        image.process(source(icon()))
    allowed = limits_with(image_formats=("ICO",))
    assert image.process(source(icon(), limits=allowed)).fields["format"] == "ICO"


def test_a_damaged_file_message_never_echoes_os_error_text():
    """A parser's word on the bytes is kept; an OS error's text (errno, server paths) never."""
    os_error = FileNotFoundError(2, "No such file or directory", "/srv/media/uploads/1/abc")
    message = str(ProcessingError.damaged("archive", os_error))
    assert message == "This archive is damaged and cannot be read."
    said = str(ProcessingError.damaged("PDF", ValueError("bad xref\nmore" + "x" * 500)))
    assert said == "This PDF is damaged and cannot be read (bad xref)."


# --- telling a small CSV from text: every line of a file that fits the sample ---

CSV_LINES = ["name,size,kind", "a.txt,1,TEXT", "b.csv,2,CSV", "c.png,3", "d.pdf,4,PDF"]


def small_file(lines: int, trailing_newline: bool) -> bytes:
    return ("\n".join(CSV_LINES[:lines]) + ("\n" if trailing_newline else "")).encode()


@pytest.mark.parametrize("trailing_newline", [True, False], ids=["newline", "no-newline"])
@pytest.mark.parametrize(
    ("lines", "name", "kind"),
    [
        (1, "one.csv", "CSV"),  # the extension settles one line
        (1, "one.txt", "TEXT"),  # one line of commas is no evidence of a table
        (2, "two.txt", "CSV"),  # header and one row, the last line counted
        (2, "two.csv", "CSV"),
        (5, "five.csv", "CSV"),  # header + 4 rows, one short: a CSV with a bad row
        (5, "five.txt", "CSV"),  # 4 of 5 lines agree
    ],
)
def test_small_csv_counts_every_line(lines, name, kind, trailing_newline):
    from files_app.processors.sniff import sniff

    assert sniff(small_file(lines, trailing_newline), name).kind == kind


def test_a_close_case_is_settled_by_the_csv_extension():
    """Header, one good row, one short one: a CSV when named so, text otherwise."""
    from files_app.processors.sniff import sniff

    data = b"name,size,kind\na.txt,1,TEXT\nc.png,3\n"
    assert sniff(data, "close.csv").kind == "CSV"
    assert sniff(data, "close.txt").kind == "TEXT"


def test_a_small_csv_with_one_bad_row_reports_it():
    checked, result = run(source(small_file(5, True), name="five.csv"))
    assert checked.kind == "CSV"
    assert result.fields["bad_rows"] == [{"line": 4, "reason": "expected 3 fields, found 2"}]


# --- the checksum pass every file gets, and sniffing -----------------------------------


def test_the_checksum_pass_reports_progress_to_the_end():
    content = b"abc" * 10_000
    seen = []
    sample = source(content, name="x", progress=seen.append)
    checked = checksum.start(sample).finish(sample.report_progress)
    assert checked == Checksum(
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="text/plain",
        size=len(content),
        kind="TEXT",
    )
    assert seen == sorted(seen) and seen[-1] == 1.0


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
        ("héllo wörld".encode(), "text/plain"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_content_type_is_sniffed_from_the_bytes(head, content_type):
    assert sniff_content_type(head) == content_type
