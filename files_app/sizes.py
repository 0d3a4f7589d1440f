"""Byte counts in words: one human unit everywhere a person reads a size (upload errors, the
page's hint, the admin), the same rule as the page's `humanSize` (frontend/src/format.ts), so
a limit reads the same in the error as on the page."""

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
STEP = 1024
# The units themselves, for limits written in code and settings (`10 * GIB`).
KIB = STEP
MIB = STEP * KIB
GIB = STEP * MIB


def human_size(size: int) -> str:
    """`1 GiB`, `14.9 KiB`, `22 B`: three significant digits at most, no trailing zeros."""
    value, unit = float(size), 0
    while value >= STEP and unit < len(UNITS) - 1:
        value /= STEP
        unit += 1
    digits = 0 if unit == 0 or value >= 100 else 1 if value >= 10 else 2
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {UNITS[unit]}"
