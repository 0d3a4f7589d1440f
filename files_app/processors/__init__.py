"""Processors: pure functions, bytes in, facts out.

Each processor module exposes `process(source: ProcessingSource) -> dict` and is registered in
`PROCESSORS` under the kind it handles. They know nothing of models, the ORM or channels, so
they can be tested and reused on any stream. Kinds without a processor of their own get the
generic one (size, content type, checksum).
"""

from . import generic
from .base import ProcessingError, ProcessingSource, Processor
from .sniff import sniff_content_type

PROCESSORS: dict[str, Processor] = {
    "generic": generic.process,
}


def processor_for(kind: str) -> Processor:
    return PROCESSORS.get(kind, PROCESSORS["generic"])


__all__ = [
    "PROCESSORS",
    "ProcessingError",
    "ProcessingSource",
    "Processor",
    "processor_for",
    "sniff_content_type",
]
