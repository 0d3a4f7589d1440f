"""live-files: a command-line client of the live-files service (docs/client.md)."""

__version__ = "0.1.0"
