"""Upload handling that enforces the size limit while the bytes stream in.

Django's multipart parser hands each chunk to this handler, which writes it to a temporary
file (so no upload is ever held in memory) and stops keeping bytes as soon as a file passes
`MAX_UPLOAD_SIZE`: the rest of the request is read and thrown away, and the mutation sees an
`OversizedUpload` marker instead of a file, which it reports as `FILE_TOO_LARGE`.
"""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler


class OversizedUpload:
    """Stands in for a file that was over the limit; holds no bytes."""

    def __init__(self, name: str, limit: int):
        self.name = name
        self.limit = limit
        self.size = None

    def close(self) -> None:
        """Django closes every uploaded file at the end of the request."""


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0
        self.oversized = False

    def receive_data_chunk(self, raw_data, start):
        if self.oversized:
            return None
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_SIZE:
            self.oversized = True
            self.file.close()  # a NamedTemporaryFile: closing deletes it
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        if self.oversized:
            return OversizedUpload(self.file_name, settings.MAX_UPLOAD_SIZE)
        return super().file_complete(file_size)
