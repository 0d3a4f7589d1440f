from celery import shared_task

from .models import StoredFile


@shared_task
def process(file_id: int) -> None:
    row = StoredFile.objects.get(pk=file_id)
    row.processed = True
    row.save(update_fields=["processed"])
