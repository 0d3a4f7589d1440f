"""Content type and kind from the bytes, never from what the client claims.

Binary formats are recognised by their signatures (the `filetype` library). Text is told
apart from binary by its bytes, then JSON by its first character and CSV by a consistent
delimiter across the sample's lines; the file name's extension only settles close cases
between CSV and plain text, never overrides the bytes. A file shorter than the sample is
judged on every line: only a sample cut from a longer file may end in a cut line.
"""

import csv
from collections import Counter
from dataclasses import dataclass

import filetype

from .kinds import FileKind

# Signatures lie within the first few hundred bytes (tar's at 257); 8 KiB also gives the
# text heuristics enough lines to judge.
SNIFF_BYTES = 8 * 1024
OCTET_STREAM = "application/octet-stream"
CSV_DELIMITERS = ",;\t|"
CSV_EXTENSIONS = (".csv", ".tsv")
MIN_CSV_LINES = 2
CSV_CONSISTENT_SHARE = 0.8
# A `.csv` name settles a close case: most lines with one width is enough (a small file with
# one bad row in three is still a CSV whose bad row the report should show).
CSV_NAMED_SHARE = 0.5

ARCHIVE_TYPES = {
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
}
# Office documents are zip files underneath: they are documents, not archives to list.
NOT_ARCHIVES = {"application/epub+zip"}


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    kind: str


def decode_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return head[: error.start].decode("utf-8")  # a character cut by the sample
    try:
        text = head.decode("cp1252")  # the usual non-UTF-8 text: Windows exports
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * len(text) else None


def guess_csv_delimiter(lines: list[str], min_share: float = CSV_CONSISTENT_SHARE) -> str | None:
    """The delimiter that splits the most lines into the same number (> 1) of fields.

    More forgiving than csv.Sniffer, which gives up on a sample with one ragged row: a few
    bad rows don't make a CSV prose, and the validation report will point them out.
    """
    best, best_share = None, 0.0
    for delimiter in CSV_DELIMITERS:
        try:
            widths = Counter(len(row) for row in csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        width, count = widths.most_common(1)[0]
        share = count / len(lines)
        if width > 1 and share >= min_share and share > best_share:
            best, best_share = delimiter, share
    return best


def sample_lines(text: str, whole_file: bool) -> list[str]:
    """Non-blank lines of a sample: every line of a whole file, else without the last one
    (the sample may have cut it)."""
    lines = text.splitlines()
    if not whole_file and len(lines) > 1:
        lines = lines[:-1]
    return [line for line in lines if line.strip()]


def looks_like_csv(text: str, name: str, whole_file: bool) -> bool:
    lines = sample_lines(text, whole_file)
    named_csv = name.lower().endswith(CSV_EXTENSIONS)
    if len(lines) < MIN_CSV_LINES:
        return named_csv and bool(lines)
    share = CSV_NAMED_SHARE if named_csv else CSV_CONSISTENT_SHARE
    return guess_csv_delimiter(lines, share) is not None


def kind_of_binary(mime: str) -> str:
    if mime.startswith("image/"):
        return FileKind.IMAGE
    if mime.startswith("audio/"):
        return FileKind.AUDIO
    if mime == "application/pdf":
        return FileKind.PDF
    if mime in ARCHIVE_TYPES and mime not in NOT_ARCHIVES:
        return FileKind.ARCHIVE
    return FileKind.OTHER


def sniff(head: bytes, name: str = "") -> Sniffed:
    if not head:
        return Sniffed(OCTET_STREAM, FileKind.OTHER)
    guess = filetype.guess(head)
    if guess is not None:
        return Sniffed(guess.mime, kind_of_binary(guess.mime))
    text = decode_text(head)
    if text is None:
        return Sniffed(OCTET_STREAM, FileKind.OTHER)
    if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return Sniffed("application/json", FileKind.JSON)
    if looks_like_csv(text, name, whole_file=len(head) < SNIFF_BYTES):
        return Sniffed("text/csv", FileKind.CSV)
    return Sniffed("text/plain", FileKind.TEXT)


def sniff_content_type(head: bytes) -> str:
    return sniff(head).content_type
