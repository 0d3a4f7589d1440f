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
    return Outcome(facts=result.facts, thumbnail=result.thumbnail, **basics)


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
