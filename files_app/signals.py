"""A File's stored bytes go with its row, however the row goes: `deleteFile`, the admin, or
a cascade from deleting its owner. Removed after the transaction commits, so a rolled-back
delete never loses bytes."""

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import storage
from .models import File, FileStatus, ResumableUpload, staging_name


@receiver(post_delete, sender=File, dispatch_uid="files_app.delete_stored_bytes")
def delete_stored_bytes(sender, instance: File, **kwargs) -> None:
    """An upload not yet complete may hold its bytes under its staging name (tus on disk, a
    direct upload's object) rather than the File's."""
    names = [instance.stored_file.name, instance.thumbnail.name]
    if instance.status == FileStatus.AWAITING_UPLOAD:
        names.append(staging_name(instance.pk))
    for name in names:
        if name:
            transaction.on_commit(lambda name=name: default_storage.delete(name), robust=True)


@receiver(post_delete, sender=ResumableUpload, dispatch_uid="files_app.abort_resumable")
def abort_multipart_upload(sender, instance: ResumableUpload, **kwargs) -> None:
    """An unfinished tus upload on S3 holds parts in a multipart upload: dropped with it."""
    if instance.multipart_id:
        # Read now: a cascade deletes this row before its File's, so the File is still there.
        key, upload_id = instance.file.stored_file.name, instance.multipart_id
        transaction.on_commit(
            lambda: storage.multipart_upload_abort_quietly(key, upload_id), robust=True
        )
