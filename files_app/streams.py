"""What the project's seekable read-only streams share: a size known up front and a position
of their own. Plain Python, so that the pure processors (files_app/processors) and the
storage module may both build on it."""

import io


class PositionedReader(io.RawIOBase):
    """A readable, seekable raw stream of `size` bytes at `position`; a subclass reads."""

    size = 0
    position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def target(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """The position `seek(offset, whence)` asks for (never before the start)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        return max(0, base + offset)
