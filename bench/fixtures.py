"""Data the benchmark needs: users with tokens, and many rows for the `files` query."""

import uuid

from django.contrib.auth import get_user_model
from django.db import connection

from files_app import services
from files_app.models import File, FileStatus
from files_app.processors import FileKind

BULK_BATCH = 5000


def reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {File._meta.db_table}")
    get_user_model().objects.filter(username__startswith="bench-").delete()


def user_with_token(username: str):
    user, _ = get_user_model().objects.get_or_create(username=username)
    return user, services.api_token_create(user=user)


def bulk_files(username: str, count: int) -> None:
    """`count` DONE rows for one user (no bytes: the query never reads them)."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    statuses = [FileStatus.DONE, FileStatus.FAILED, FileStatus.DONE, FileStatus.DONE]
    rows = [
        File(
            id=uuid.uuid4(),
            owner=user,
            name=f"report-{i:06d}.csv",
            size=1000 + i,
            stored_file=f"uploads/{user.pk}/{i}",
            content_type="text/csv",
            kind=FileKind.CSV,
            status=statuses[i % len(statuses)],
        )
        for i in range(count)
    ]
    File.objects.bulk_create(rows, batch_size=BULK_BATCH)


def stored_text_files(username: str, count: int) -> list[File]:
    """PENDING files with real stored bytes, for the worker to process."""
    from django.core.files.base import ContentFile

    user, _ = get_user_model().objects.get_or_create(username=username)
    files = []
    for i in range(count):
        content = f"line {i}\n".encode() * 1000
        file = File(id=uuid.uuid4(), owner=user, name=f"small-{i}.txt", size=len(content))
        file.stored_file.save("x", ContentFile(content), save=False)
        files.append(file)
    return File.objects.bulk_create(files)
