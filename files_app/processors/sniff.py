"""Content type from the bytes, never from what the client claims."""

import filetype

# filetype's signatures all lie within the first few hundred bytes; 8 KiB also gives the
# text heuristic enough to judge.
SNIFF_BYTES = 8 * 1024
OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain"


def looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def sniff_content_type(head: bytes) -> str:
    if not head:
        return OCTET_STREAM
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    return TEXT_PLAIN if looks_like_text(head) else OCTET_STREAM
