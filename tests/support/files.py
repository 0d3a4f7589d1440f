"""File rows made directly, without an upload: for tests of processing and deletion."""

import uuid

from django.core.files.base import ContentFile

from files_app.models import File, FileStatus
from files_app.processors import FileKind, sniff
from files_app.processors.sniff import SNIFF_BYTES


def make_file(owner, content: bytes, *, name="made.bin", declared_size=None, **fields) -> File:
    """A stored file as an upload leaves it (PENDING); `declared_size` when the row should
    disagree with its bytes."""
    file = File(
        id=uuid.uuid4(),
        owner=owner,
        name=name,
        size=declared_size if declared_size is not None else len(content),
        **fields,
    )
    file.stored_file.save(name, ContentFile(content), save=False)
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
    sniffed = sniff(content[:SNIFF_BYTES], name)
    return make_file(
        owner, content, name=name, content_type=sniffed.content_type, kind=sniffed.kind
    )


def make_processed_file(owner, content: bytes, name: str) -> File:
    """A file made and processed in-process, DONE with the SHA-256 of `content`."""
    import hashlib

    from files_app import services

    file = make_file(owner, content, name=name)
    services.file_process(file_id=file.pk)
    file.refresh_from_db()
    assert file.status == FileStatus.DONE, file.error
    assert file.sha256 == hashlib.sha256(content).hexdigest()
    return file
