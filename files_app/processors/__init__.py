"""Processors: pure functions, bytes in, a result out.

`run()` reads the stored bytes once for two passes: the checksum pass every file gets (SHA-256,
size, content type and kind from the bytes, `checksum.py`), which rides on the reads of the
processor registered for the kind, if any: a processor from outside the project (`outside.py`,
the `FILE_PROCESSORS` setting) when one claims the file, else the built-in one. Each kind has
one module with the same signature (`process(source)`, see `base.py`); they know nothing of
models, the ORM or channels, so they are easy to test and reuse.
"""

from dataclasses import replace

from ..failures import FailureCode
from . import archive, audio, checksum, csv_file, image, json_file, pdf, text
from .base import ProcessingError, ProcessingLimits, ProcessingSource, Processor, Result
from .checksum import Checksum
from .kinds import FileKind
from .outside import CUSTOM_KIND, NONE, OutsideProcessors, ProcessorConfigError, outside_processors
from .sniff import sniff, sniff_content_type

# The one registry: a kind here has a GraphQL result type (schema/graphql/results.py `RESULT_TYPES`,
# checked by tests/api/test_kinds_registry.py); a kind not here (OTHER) has only the checksum.
PROCESSORS: dict[FileKind, Processor] = {
    FileKind.IMAGE: image.process,
    FileKind.CSV: csv_file.process,
    FileKind.TEXT: text.process,
    FileKind.JSON: json_file.process,
    FileKind.PDF: pdf.process,
    FileKind.ARCHIVE: archive.process,
    FileKind.AUDIO: audio.process,
}
# With a kind processor, it is this share of the progress bar; hashing what it left unread
# (`checksum.Checking.finish`) is the rest.
PROCESSOR_SHARE = 0.7


# What one result may hold, whatever a file claims (CSV header names, PDF title and author,
# audio tags, archive entry names): it is stored as JSON on the row and pushed to every
# subscriber. Strings are capped in UTF-8 bytes, not characters: 1,000 emoji are 4,000 bytes.
MAX_RESULT_STRING_BYTES = 1_000
MAX_RESULT_ITEMS = 200
TRUNCATED = "…"


def cut(text: str, most: int) -> str:
    """`text` if it fits in `most` UTF-8 bytes, else its longest prefix that fits with the
    ellipsis, never splitting a character."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= most:
        return text
    room = most - len(TRUNCATED.encode())
    return data[:room].decode("utf-8", "ignore") + TRUNCATED


def bounded(value):
    """`value` with every string cut to MAX_RESULT_STRING_BYTES and every list or dict to
    MAX_RESULT_ITEMS items, at any depth. Processors already cap what they collect; this
    is the one place that guarantees it for all of them."""
    if isinstance(value, str):
        return (
            value
            if len(value) * 4 <= MAX_RESULT_STRING_BYTES
            else cut(value, MAX_RESULT_STRING_BYTES)
        )
    if isinstance(value, list | tuple):
        return [bounded(item) for item in value[:MAX_RESULT_ITEMS]]
    if isinstance(value, dict):
        return {bounded(key): bounded(item) for key, item in list(value.items())[:MAX_RESULT_ITEMS]}
    return value


def scaled(report, start: float, end: float):
    return lambda fraction: report(start + (end - start) * fraction)


def run(source: ProcessingSource, outside: OutsideProcessors = NONE) -> tuple[Checksum, Result]:
    """The checksum every file gets, and the result of its kind's processor (empty for a
    kind without one). An outside processor's result is stored under its kind's name, and
    a file of a kind of its own is CUSTOM."""
    report = source.report_progress
    checking = checksum.start(source)
    chosen = outside.choose(source.name, checking.sniffed.kind)
    processor = chosen.process if chosen else PROCESSORS.get(checking.sniffed.kind)
    result = Result(fields={})
    if processor is not None:
        with checking.storage_errors_first():
            result = processor(
                replace(
                    source,
                    stream=checking.stream,
                    content_type=checking.sniffed.content_type,
                    report_progress=scaled(report, 0, PROCESSOR_SHARE),
                )
            )
        report = scaled(report, PROCESSOR_SHARE, 1.0)
    checked = checking.finish(report)
    source.report_progress(1.0)
    if chosen and chosen.own_kind:
        checked = replace(checked, kind=FileKind.CUSTOM)
    if chosen:  # its fields as they are, under its kind; no thumbnail (nothing would serve it)
        return checked, Result(fields={CUSTOM_KIND: chosen.kind, "data": bounded(result.fields)})
    return checked, replace(result, fields=bounded(result.fields))


__all__ = [
    "CUSTOM_KIND",
    "PROCESSORS",
    "Checksum",
    "FailureCode",
    "FileKind",
    "OutsideProcessors",
    "ProcessorConfigError",
    "outside_processors",
    "ProcessingError",
    "ProcessingLimits",
    "ProcessingSource",
    "Processor",
    "Result",
    "run",
    "sniff",
    "sniff_content_type",
]
