"""`File.result`: what the processor of the file's kind found, as one type per kind.

A result's fields are stored as JSON on the row (see `files_app/processors/*`); these types
give them a schema. Keys missing from older rows read as null rather than failing the query.
`RESULT_TYPES` mirrors `processors.PROCESSORS`, kind for kind, and the `FileResult` union is
built from it: a new processor needs its type here (tests/api/test_kinds_registry.py says so).
A processor from outside the project (`FILE_PROCESSORS`) has one generic type, `CustomResult`,
whatever it is: the schema does not change with what a deployment loads.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, NamedTuple, Union

import strawberry
from strawberry.scalars import JSON

from files_app.processors import CUSTOM_KIND, FileKind

from .scalars import BigInt


def build(cls, fields: dict, **values):
    """A result type from a result's fields, ignoring keys the type doesn't declare;
    `values` are those converted (nested types, dates) or not stored (the thumbnail's URL)."""
    names = {f.python_name for f in cls.__strawberry_definition__.fields}
    return cls(**{name: fields.get(name) for name in names if name not in values}, **values)


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
        description="More entries than the names listed in `entries`."
    )
    listing_truncated: bool | None = strawberry.field(
        description="The listing stopped at ARCHIVE_MAX_ENTRIES entries: `entryCount` and "
        "`totalUncompressedSize` count only those."
    )


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


@strawberry.type(
    description="What a processor from outside the service (the `FILE_PROCESSORS` setting) "
    "found, as it returned it (docs/processors.md)."
)
class CustomResult:
    kind: str = strawberry.field(
        description="The processor's kind: its own (`MARKDOWN`), or the built-in kind it "
        "replaces (`TEXT`)."
    )
    data: JSON = strawberry.field(
        description="The processor's fields, as JSON (strings, lists and objects bounded as "
        "every result is)."
    )


def parse_datetime(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class ResultType(NamedTuple):
    type: type
    # The type's converted values from the stored fields and the thumbnail's URL.
    values: Callable[[dict, str | None], dict] = lambda fields, thumbnail_url: {}


RESULT_TYPES: dict[FileKind, ResultType] = {
    FileKind.IMAGE: ResultType(
        ImageResult,
        lambda fields, thumbnail_url: {
            "taken_at": parse_datetime(fields.get("taken_at")),
            "thumbnail_url": thumbnail_url,
        },
    ),
    FileKind.CSV: ResultType(
        CsvResult,
        lambda fields, _: {
            "columns": [CsvColumn(**c) for c in fields.get("columns") or []],
            "bad_rows": [CsvBadRow(**r) for r in fields.get("bad_rows") or []],
        },
    ),
    FileKind.TEXT: ResultType(TextResult),
    FileKind.JSON: ResultType(JsonResult),
    FileKind.PDF: ResultType(
        PdfResult, lambda fields, _: {"created_at": parse_datetime(fields.get("created_at"))}
    ),
    FileKind.ARCHIVE: ResultType(ArchiveResult),
    FileKind.AUDIO: ResultType(
        AudioResult, lambda fields, _: {"tags": [AudioTag(**t) for t in fields.get("tags") or []]}
    ),
}

FileResult = Annotated[
    Union[(*(entry.type for entry in RESULT_TYPES.values()), CustomResult)],  # built at run time
    strawberry.union("FileResult", description="Per-kind processing results; null until DONE."),
]


def result_for(kind: str, fields: dict, *, thumbnail_url: str | None) -> FileResult | None:
    if fields and CUSTOM_KIND in fields:
        return CustomResult(kind=fields[CUSTOM_KIND], data=fields.get("data") or {})
    entry = RESULT_TYPES.get(kind)
    if not fields or entry is None:
        return None
    return build(entry.type, fields, **entry.values(fields, thumbnail_url))
