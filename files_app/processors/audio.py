"""Audio (mutagen): duration, bitrate, sample rate, channels and tags, from the headers."""

import mutagen

from ..failures import FailureCode
from .base import ProcessingError, ProcessingSource, Result

MAX_TAGS = 50


def tags_of(stream) -> list[dict]:
    stream.seek(0)
    try:
        easy = mutagen.File(stream, easy=True)
    except mutagen.MutagenError:
        return []
    if easy is None or not easy.tags:
        return []
    tags = []
    for key, value in easy.tags.items():
        values = value if isinstance(value, list) else [value]
        tags.append({"key": str(key), "value": ", ".join(str(v) for v in values)})
    return sorted(tags, key=lambda tag: tag["key"])[:MAX_TAGS]


def process(source: ProcessingSource) -> Result:
    source.stream.seek(0)
    source.report_progress(0.0)
    try:
        audio = mutagen.File(source.stream)
    except (mutagen.MutagenError, OSError, ValueError, EOFError):
        audio = None
    if audio is None or audio.info is None:
        raise ProcessingError(
            "This audio file is damaged or in a format we cannot read.", FailureCode.DAMAGED
        )
    info = audio.info
    fields = {
        "format": type(audio).__name__,
        "duration_seconds": float(info.length) if getattr(info, "length", None) else None,
        "bitrate": int(info.bitrate) if getattr(info, "bitrate", None) else None,
        "sample_rate": int(info.sample_rate) if getattr(info, "sample_rate", None) else None,
        "channels": int(info.channels) if getattr(info, "channels", None) else None,
        "tags": tags_of(source.stream),
    }
    source.report_progress(1.0)
    return Result(fields=fields)
