"""File rows made directly, without an upload: for tests of processing and deletion."""

import uuid

from django.core.files.base import ContentFile

from files_app.models import File, FileStatus
from files_app.processors import FileKind, sniff


def make_file(owner, content: bytes, *, declared_size=None) -> File:
    file = File(
        id=uuid.uuid4(),
        owner=owner,
        name="made.bin",
        size=declared_size if declared_size is not None else len(content),
    )
    file.stored_file.save("ignored", ContentFile(content), save=False)
    file.save(force_insert=True)
    return file


def make_done_file(owner, name: str) -> File:
    """A processed file as a row only, no bytes: for what happens to a file, not in it."""
    return File.objects.create(
        owner=owner,
        name=name,
        size=3,
        status=FileStatus.DONE,
        kind=FileKind.OTHER,
        content_type="text/plain",
        version=4,
    )


def make_sniffed_file(owner, name: str, content: bytes) -> File:
    """A stored file with the kind and content type an upload would have sniffed."""
    sniffed = sniff(content[:8192], name)
    file = File(
        id=uuid.uuid4(),
        owner=owner,
        name=name,
        size=len(content),
        content_type=sniffed.content_type,
        kind=sniffed.kind,
    )
    file.stored_file.save(name, ContentFile(content), save=False)
    file.save(force_insert=True)
    return file
