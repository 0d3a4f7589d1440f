"""`File.result`: what the processor of the file's kind found, as one type per kind.

The facts are stored as JSON on the row (see `files_app/processors/*`); these types give
them a schema. Keys missing from older rows read as null rather than failing the query.
"""

from datetime import datetime
from typing import Annotated

import strawberry

from .types_common import BigInt


def from_facts(cls, facts: dict, **extra):
    """Build a result type from a facts dict, ignoring keys the type doesn't declare."""
    fields = {f.python_name for f in cls.__strawberry_definition__.fields}
    return cls(**{name: facts.get(name) for name in fields if name not in extra}, **extra)


@strawberry.type
class ImageResult:
    format: str | None
    width: int | None
    height: int | None
    mode: str | None
    animated: bool | None
    frames: int | None
    camera: str | None
    taken_at: datetime | None
    orientation: int | None
    thumbnail_url: str | None = strawberry.field(description="WebP, longest side 256 px.")


@strawberry.type
class CsvColumn:
    name: str
    type: str = strawberry.field(description="int, float, bool, date or text")
    nulls: BigInt


@strawberry.type
class CsvBadRow:
    line: BigInt
    reason: str


@strawberry.type
class CsvResult:
    encoding: str | None
    delimiter: str | None
    quote_char: str | None
    has_header: bool | None
    header: list[str] | None
    row_count: BigInt | None
    column_count: int | None
    columns: list[CsvColumn] | None
    bad_rows: list[CsvBadRow] | None = strawberry.field(description="The first 100 bad rows.")
    bad_row_count: BigInt | None


@strawberry.type
class TextResult:
    encoding: str | None
    line_count: BigInt | None
    word_count: BigInt | None
    character_count: BigInt | None
    preview: str | None


@strawberry.type
class JsonResult:
    valid: bool | None
    error: str | None
    error_line: int | None
    error_column: int | None
    top_level_type: str | None
    key_count: BigInt | None
    item_count: BigInt | None


@strawberry.type
class PdfResult:
    page_count: int | None
    title: str | None
    author: str | None
    created_at: datetime | None
    encrypted: bool | None
    text_preview: str | None


@strawberry.type
class ArchiveResult:
    format: str | None
    entry_count: BigInt | None
    total_uncompressed_size: BigInt | None
    compressed_size: BigInt | None
    entries: list[str] | None = strawberry.field(description="The first 100 entry names.")
    entries_truncated: bool | None = strawberry.field(
        description="More entries than the names listed in `entries`.")
    listing_truncated: bool | None = strawberry.field(
        description="The listing stopped at ARCHIVE_MAX_ENTRIES entries: `entryCount` and "
                    "`totalUncompressedSize` count only those.")


@strawberry.type
class AudioTag:
    key: str
    value: str


@strawberry.type
class AudioResult:
    format: str | None
    duration_seconds: float | None
    bitrate: int | None
    sample_rate: int | None
    channels: int | None
    tags: list[AudioTag] | None


FileResult = Annotated[
    ImageResult | CsvResult | TextResult | JsonResult | PdfResult | ArchiveResult | AudioResult,
    strawberry.union("FileResult", description="Per-kind processing results; null until DONE."),
]


def parse_datetime(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def result_for(kind: str, facts: dict, *, thumbnail_url: str | None) -> FileResult | None:
    if not facts:
        return None
    if kind == "IMAGE":
        return from_facts(ImageResult, {**facts, "taken_at": parse_datetime(facts.get("taken_at"))},
                          thumbnail_url=thumbnail_url)
    if kind == "CSV":
        return from_facts(
            CsvResult, facts,
            columns=[CsvColumn(**c) for c in facts.get("columns") or []],
            bad_rows=[CsvBadRow(**r) for r in facts.get("bad_rows") or []],
        )
    if kind == "PDF":
        return from_facts(PdfResult, {**facts,
                                      "created_at": parse_datetime(facts.get("created_at"))})
    if kind == "AUDIO":
        return from_facts(AudioResult, facts,
                          tags=[AudioTag(**t) for t in facts.get("tags") or []])
    simple = {"TEXT": TextResult, "JSON": JsonResult, "ARCHIVE": ArchiveResult}.get(kind)
    return from_facts(simple, facts) if simple else None
