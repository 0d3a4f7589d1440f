"""Whole numbers written by a client (a header, a multipart map path, a variable, an
option): ASCII digits, and nothing else.

`str.isdigit()` is true for `²` and `٣`, and `int()` takes `٣`, ` 12 `, `+12` and `1_000`,
and raises for `²` (an `Upload-Length: ²` on /tus/ would be a 500). Every number a client
sends is read through `parse_digits`, so each place refuses the same things with its own
clear error."""

import re

# Longer is refused, not converted: no count here needs more than 19 digits (64 bits), and
# int() takes time quadratic in the length (and refuses more than 4300 digits).
MAX_DIGITS = 64
DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def parse_digits(text) -> int | None:
    """The number `text` spells in ASCII digits 0-9, or None for anything else (a sign,
    spaces, underscores, other scripts' digits, an empty string, a non-string)."""
    if not isinstance(text, str) or DIGITS.fullmatch(text) is None:
        return None
    return int(text)
