"""Celery tasks: thin wrappers around services (acks_late + reject_on_worker_lost come
from settings, so a file whose worker dies is delivered again)."""

from celery import shared_task

from . import services


@shared_task(name="files_app.process_file", ignore_result=True)
def process_file(file_id: str) -> None:
    services.file_process(file_id=file_id)
