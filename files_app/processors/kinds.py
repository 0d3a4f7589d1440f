"""The kinds of file we tell apart. Plain strings: processors know nothing of models."""

IMAGE = "IMAGE"
CSV = "CSV"
TEXT = "TEXT"
JSON = "JSON"
PDF = "PDF"
ARCHIVE = "ARCHIVE"
AUDIO = "AUDIO"
OTHER = "OTHER"

ALL = (IMAGE, CSV, TEXT, JSON, PDF, ARCHIVE, AUDIO, OTHER)
