"""PDFs (pypdf): page count, metadata, encryption and a text preview of page 1.

An encrypted PDF is a result (encrypted: true), not a failure; a PDF pypdf cannot parse is.
"""

import logging
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from .base import ProcessingError, ProcessingSource, Result

PDF_DATE = re.compile(
    r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?",
    re.ASCII,  # \d is 0-9 only, as for every number a client writes (files_app/numbers.py)
)
WHITESPACE = re.compile(r"\s+")


@contextmanager
def quiet_pypdf():
    """pypdf logs a warning for every oddity of a broken file; the error says enough."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def parse_pdf_date(value) -> str | None:
    match = PDF_DATE.match(str(value or ""))
    if not match:
        return None
    year, month, day, hour, minute, second, sign, tz_hour, tz_minute = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return None
    if sign in ("Z", "z"):
        moment = moment.replace(tzinfo=timezone.utc)
    elif sign in ("+", "-") and tz_hour:
        offset = timedelta(hours=int(tz_hour), minutes=int(tz_minute or 0))
        moment = moment.replace(tzinfo=timezone(offset if sign == "+" else -offset))
    return moment.isoformat()


def text_preview(reader: PdfReader, limit: int) -> str | None:
    try:
        text = reader.pages[0].extract_text() if len(reader.pages) else ""
    except Exception:  # text extraction is best effort: odd fonts must not fail the file
        return None
    text = WHITESPACE.sub(" ", text or "").strip()
    return text[:limit] or None


def metadata_text(metadata, key: str) -> str | None:
    value = metadata.get(key) if metadata else None
    return str(value).strip() or None if value is not None else None


def process(source: ProcessingSource) -> Result:
    source.stream.seek(0)
    source.report_progress(0.0)
    with quiet_pypdf():
        try:
            reader = PdfReader(source.stream, strict=False)
            encrypted = reader.is_encrypted
            readable = not encrypted or bool(reader.decrypt(""))
            page_count = len(reader.pages) if readable else None
            metadata = reader.metadata if readable else None
            fields = {
                "page_count": page_count,
                "title": metadata_text(metadata, "/Title"),
                "author": metadata_text(metadata, "/Author"),
                "created_at": parse_pdf_date(metadata.get("/CreationDate")) if metadata else None,
                "encrypted": encrypted,
                "text_preview": text_preview(reader, source.limits.preview_chars)
                if readable
                else None,
            }
        except FileNotDecryptedError:
            fields = {
                "page_count": None,
                "title": None,
                "author": None,
                "created_at": None,
                "encrypted": True,
                "text_preview": None,
            }
        except (
            PdfReadError,
            PyPdfError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            RecursionError,
        ) as error:
            raise ProcessingError.damaged("PDF", error) from None
    source.report_progress(1.0)
    return Result(fields=fields)
