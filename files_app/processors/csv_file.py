"""CSV: dialect, header, per-column types and nulls, and a report of bad rows — streamed.

Rows are parsed one at a time from decoded lines (quoted fields spanning lines still work),
so a 1 GB file takes the same memory as a 1 KB one. Bad rows are reported and skipped;
processing always goes on to the end.
"""

import csv
import io
import re
from datetime import date

from ..failures import FailureCode
from ..sizes import MIB
from .base import ProcessingError, ProcessingSource, Result
from .encoding import SAMPLE_BYTES, detect_encoding, is_ascii_compatible, iter_decoded_lines
from .sniff import guess_csv_delimiter, sample_lines

TYPE_ORDER = ("int", "float", "bool", "date")
INT = re.compile(r"[+-]?\d+\Z")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
BOOLS = {"true", "false", "yes", "no"}
# One record (a row, its quoted line breaks included) and its columns are bounded: csv.reader
# holds a whole record before it yields it, at about 14 bytes of memory per byte of input for
# many short quoted fields ("x\n", repeated), so an unbounded record could take all memory.
MAX_RECORD_CHARS = MIB
MAX_COLUMNS = 2_000
CSV_FIELD_LIMIT = MAX_RECORD_CHARS


def fits(kind: str, value: str) -> bool:
    if kind == "int":
        return INT.match(value) is not None
    if kind == "float":
        try:
            float(value)
        except ValueError:
            return False
        return value.lower() not in ("nan", "inf", "-inf", "infinity", "+inf")
    if kind == "bool":
        return value.lower() in BOOLS
    if ISO_DATE.match(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class Column:
    __slots__ = ("name", "candidates", "nulls", "seen")

    def __init__(self, name: str):
        self.name, self.candidates, self.nulls, self.seen = name, list(TYPE_ORDER), 0, False

    def add(self, value: str) -> None:
        value = value.strip()
        if not value:
            self.nulls += 1
            return
        self.seen = True
        if self.candidates:
            self.candidates = [kind for kind in self.candidates if fits(kind, value)]

    def result_fields(self) -> dict:
        kind = self.candidates[0] if self.seen and self.candidates else "text"
        return {"name": self.name, "type": kind, "nulls": self.nulls}


class BadRows:
    def __init__(self, limit: int):
        self.limit, self.listed, self.count = limit, [], 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        if len(self.listed) < self.limit:
            self.listed.append({"line": line, "reason": reason})


class Dialect(csv.excel):
    pass


def sniff_dialect(sample: str, whole_file: bool):
    lines = sample_lines(sample, whole_file)
    dialect = Dialect()
    dialect.delimiter = guess_csv_delimiter(lines) or ","
    try:
        has_header = csv.Sniffer().has_header("\n".join(lines))
    except csv.Error:
        has_header = False
    if not has_header and lines:
        # The Sniffer can't tell when every column is text; most CSVs have a header, so a
        # first row of distinct, non-empty, non-numeric names is taken as one.
        first = next(csv.reader(lines[:1], dialect))
        has_header = len(set(first)) == len(first) and all(
            name.strip() and not fits("float", name.strip()) for name in first
        )
    return dialect, has_header


def decoded_lines(source, encoding, bad_rows, position):
    """Lines for csv.reader; undecodable ones are reported and skipped. `position[0]` is the
    physical line number of the last line handed out."""
    reader = source.progress_reader()
    if not is_ascii_compatible(encoding):  # UTF-16/32: can't split on bytes
        for number, line in enumerate(
            io.TextIOWrapper(reader, encoding, errors="replace", newline=""), start=1
        ):
            position[0] = number
            yield line
        return
    for number, line in iter_decoded_lines(reader, encoding):
        if line is None:
            bad_rows.add(number, f"bytes that are not valid {encoding} on this line")
            continue
        position[0] = number
        yield line


class RecordBudget:
    """The lines csv.reader asks for, refused once one record has taken MAX_RECORD_CHARS:
    `spent = 0` after every row it yields."""

    def __init__(self, lines):
        self.lines = lines
        self.spent = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.spent += len(line)
        if self.spent > MAX_RECORD_CHARS:
            raise ProcessingError(
                f"A CSV record is longer than {MAX_RECORD_CHARS:,} characters (a quote that "
                "is never closed?): too large or too complex to process.",
                FailureCode.TOO_COMPLEX,
            )
        return line


def process(source: ProcessingSource) -> Result:
    source.stream.seek(0)
    sample_bytes = source.stream.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample_bytes)
    dialect, has_header = sniff_dialect(
        sample_bytes.decode(encoding, errors="replace"), whole_file=len(sample_bytes) < SAMPLE_BYTES
    )
    bad_rows = BadRows(source.limits.max_bad_rows)
    position = [0]
    csv.field_size_limit(CSV_FIELD_LIMIT)
    lines = RecordBudget(decoded_lines(source, encoding, bad_rows, position))
    rows = csv.reader(lines, dialect)
    header: list[str] | None = None
    columns: list[Column] = []
    row_count = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            bad_rows.add(position[0], f"not valid CSV: {error}")
            lines.spent = 0
            continue
        lines.spent = 0
        if not row:
            continue  # a blank line
        if not columns:
            if len(row) > MAX_COLUMNS:
                raise ProcessingError(
                    f"The CSV file has {len(row):,} columns; at most "
                    f"{MAX_COLUMNS:,} can be processed.",
                    FailureCode.TOO_COMPLEX,
                )
            header = row if has_header else [f"column_{i}" for i in range(1, len(row) + 1)]
            columns = [Column(name) for name in header]
            if has_header:
                continue
        if len(row) != len(columns):
            bad_rows.add(position[0], f"expected {len(columns)} fields, found {len(row)}")
            continue
        row_count += 1
        for column, value in zip(columns, row):
            column.add(value)
    if not columns:
        raise ProcessingError("The CSV file has no rows.", FailureCode.DAMAGED)
    source.report_progress(1.0)
    return Result(
        fields={
            "encoding": encoding,
            "delimiter": dialect.delimiter,
            "quote_char": dialect.quotechar,
            "has_header": has_header,
            "header": header,
            "row_count": row_count,
            "column_count": len(columns),
            "columns": [column.result_fields() for column in columns],
            "bad_rows": bad_rows.listed,
            "bad_row_count": bad_rows.count,
        }
    )
