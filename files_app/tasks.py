"""Celery tasks: thin wrappers around services.

acks_late + reject_on_worker_lost (settings) deliver a file again when its pool child dies;
a worker killed whole is noticed by the lapsed lease of its file (the recovery sweep), and
any delivery that finds the file finished or still leased by a live run does nothing.
Storage hiccups are retried with exponential backoff; the soft time limit ends a file that
takes too long in FAILED.
"""

from celery import shared_task
from django.conf import settings

from . import services
from .exceptions import TransientProcessingError


@shared_task(
    bind=True,
    name="files_app.process_file",
    ignore_result=True,
    autoretry_for=(TransientProcessingError,),
    max_retries=settings.PROCESSING_MAX_RETRIES,
    retry_backoff=settings.PROCESSING_RETRY_BACKOFF_SECONDS,
    retry_jitter=True,
    soft_time_limit=settings.PROCESSING_SOFT_TIME_LIMIT,
    time_limit=settings.PROCESSING_SOFT_TIME_LIMIT + settings.PROCESSING_HARD_TIME_LIMIT_GRACE,
)
def process_file(self, file_id: str) -> None:
    retries_left = self.max_retries - self.request.retries
    if services.file_process(file_id=file_id, retries_left=retries_left) == services.DEFERRED:
        # Its owner has their share in flight: sent again to the same queue, as the same try
        # (not a Celery retry: it would count against max_retries).
        queue = (self.request.delivery_info or {}).get("routing_key")
        self.signature_from_request(
            queue=queue, countdown=settings.FILE_IN_FLIGHT_RETRY_SECONDS).apply_async()


@shared_task(name="files_app.recover_files", ignore_result=True)
def recover_files() -> None:
    services.files_recover()
