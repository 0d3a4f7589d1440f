"""Text encodings: detected from a bounded sample, decoded line by line or chunk by chunk."""

import codecs

from charset_normalizer import from_bytes

from ..sizes import MIB

SAMPLE_BYTES = 64 * 1024
# One physical line is read at most this much at a time, so a file without newlines can't
# make us hold it whole.
MAX_LINE_BYTES = MIB
UTF8_BOM = codecs.BOM_UTF8


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(UTF8_BOM):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"  # a character cut by the end of the sample
    if mostly_utf8(sample):
        return "utf-8"  # a few bad lines in a UTF-8 file: report them, don't misread the rest
    best = from_bytes(sample).best()
    return best.encoding if best is not None else "latin-1"


def mostly_utf8(sample: bytes) -> bool:
    """More valid multi-byte UTF-8 characters than invalid bytes: text in a single-byte
    encoding (latin-1, cp1252) almost never forms valid UTF-8 sequences by accident."""
    decoded = sample.decode("utf-8", errors="replace")
    invalid = decoded.count("\ufffd")
    multibyte = sum(1 for ch in decoded if ord(ch) > 0x7F) - invalid
    return multibyte > invalid


def is_ascii_compatible(encoding: str) -> bool:
    """Whether b"\\n" in the bytes is a newline (false for UTF-16/32)."""
    return "\n".encode(encoding).strip(UTF8_BOM) == b"\n" and not encoding.lower().startswith(
        ("utf_16", "utf-16", "utf_32", "utf-32")
    )


def iter_decoded_lines(reader, encoding: str):
    """Yield (line number, text) for each physical line; text is None where the bytes are
    not valid in `encoding`. A line longer than MAX_LINE_BYTES comes as several pieces,
    each carrying the same line number."""
    number = 1
    while raw := reader.readline(MAX_LINE_BYTES):
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError:
            yield number, None
        if raw.endswith(b"\n"):
            number += 1


def iter_text_chunks(reader, encoding: str, chunk_size: int):
    """Decoded text in chunks of about `chunk_size` bytes; undecodable bytes become U+FFFD."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    while chunk := reader.read(chunk_size):
        yield decoder.decode(chunk)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail
