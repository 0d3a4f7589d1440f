"""The kinds of file we tell apart: the one list. The model's choices and the GraphQL
`FileKind` enum are built from it; processors compare against it without knowing of either."""

from enum import StrEnum


class FileKind(StrEnum):
    """Each member is its name as a string (what the row stores) with a label for people."""

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    IMAGE = "IMAGE", "Image"
    CSV = "CSV", "CSV"
    TEXT = "TEXT", "Text"
    JSON = "JSON", "JSON"
    PDF = "PDF", "PDF"
    ARCHIVE = "ARCHIVE", "Archive"
    AUDIO = "AUDIO", "Audio"
    OTHER = "OTHER", "Other"
    # A kind of its own, from a processor outside the project (processors/outside.py).
    CUSTOM = "CUSTOM", "Custom"
