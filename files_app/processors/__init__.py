"""Processors: pure functions, bytes in, facts out.

`run()` makes two passes over the stored bytes: the checksum pass every file gets (SHA-256,
size, content type and kind from the bytes), then the processor registered for the kind, if
any. Each kind has one module with the same signature (`process(source)`, see `base.py`);
they know nothing of models, the ORM or channels, so they are easy to test and reuse.
"""

from dataclasses import dataclass, replace

from . import archive, audio, csv_file, generic, image, json_file, kinds, pdf, text
from .base import (
    ProcessingError,
    ProcessingLimits,
    ProcessingResult,
    ProcessingSource,
    Processor,
)
from .sniff import sniff, sniff_content_type

PROCESSORS: dict[str, Processor] = {
    kinds.IMAGE: image.process,
    kinds.CSV: csv_file.process,
    kinds.TEXT: text.process,
    kinds.JSON: json_file.process,
    kinds.PDF: pdf.process,
    kinds.ARCHIVE: archive.process,
    kinds.AUDIO: audio.process,
}
# With a kind processor to follow, the checksum pass is this share of the progress bar.
CHECKSUM_SHARE = 0.3


@dataclass
class Outcome:
    sha256: str
    size: int
    content_type: str
    kind: str
    facts: dict
    thumbnail: bytes | None


# What one result may hold, whatever a file claims (CSV header names, PDF title and author,
# audio tags): it is stored as JSON on the row and pushed to every subscriber.
MAX_RESULT_STRING = 1_000
MAX_RESULT_ITEMS = 200
TRUNCATED = "…"


def bounded(value):
    """`value` with every string cut to MAX_RESULT_STRING characters and every list or dict
    to MAX_RESULT_ITEMS items, at any depth. Processors already cap what they collect; this
    is the one place that guarantees it for all of them."""
    if isinstance(value, str):
        return value if len(value) <= MAX_RESULT_STRING else (
            value[:MAX_RESULT_STRING - 1] + TRUNCATED)
    if isinstance(value, list | tuple):
        return [bounded(item) for item in value[:MAX_RESULT_ITEMS]]
    if isinstance(value, dict):
        return {bounded(key): bounded(item)
                for key, item in list(value.items())[:MAX_RESULT_ITEMS]}
    return value


def scaled(report, start: float, end: float):
    return lambda fraction: report(start + (end - start) * fraction)


def run(source: ProcessingSource) -> Outcome:
    report = source.report_progress
    basics = generic.process(replace(source, report_progress=scaled(report, 0, CHECKSUM_SHARE)))
    basics = basics.facts
    processor = PROCESSORS.get(basics["kind"])
    result = ProcessingResult(facts={})
    if processor is not None:
        result = processor(replace(
            source,
            content_type=basics["content_type"],
            report_progress=scaled(report, CHECKSUM_SHARE, 1.0),
        ))
    source.report_progress(1.0)
    return Outcome(facts=bounded(result.facts), thumbnail=result.thumbnail, **basics)


__all__ = [
    "PROCESSORS",
    "Outcome",
    "ProcessingError",
    "ProcessingLimits",
    "ProcessingSource",
    "Processor",
    "run",
    "sniff",
    "sniff_content_type",
]
