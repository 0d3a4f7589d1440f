"""Celery tasks: thin wrappers around services, each imported from its module (services
queue a file through `dispatch`, by the task's name, and never import this module).

acks_late + reject_on_worker_lost (settings) deliver a file again when its pool child dies,
and RabbitMQ as soon as a killed worker's connection drops: that redelivery takes the file
over once its lease is overdue (a missed renewal). Otherwise a worker killed whole is noticed
by the lapsed lease of its file (the recovery sweep), and any delivery that finds the file
finished or still leased by a live run does nothing.
Storage hiccups are retried with exponential backoff; the soft time limit ends a file that
takes too long in FAILED.
"""

from celery import shared_task
from django.conf import settings

from .dispatch import DELIVER_WEBHOOK, PROCESS_FILE
from .exceptions import TransientProcessingError
from .services.processing import SendAgain, file_process
from .services.recovery import files_recover
from .services.webhooks import (
    webhook_deliver,
    webhook_deliveries_prune,
    webhook_deliveries_recover,
)


@shared_task(
    bind=True,
    name=PROCESS_FILE,
    ignore_result=True,
    autoretry_for=(TransientProcessingError,),
    max_retries=settings.PROCESSING_MAX_RETRIES,
    retry_backoff=settings.PROCESSING_RETRY_BACKOFF_SECONDS,
    retry_jitter=True,
    soft_time_limit=settings.PROCESSING_SOFT_TIME_LIMIT,
    time_limit=settings.PROCESSING_SOFT_TIME_LIMIT + settings.PROCESSING_HARD_TIME_LIMIT_GRACE,
)
def process_file(self, file_id: str, takeover: bool = False) -> None:
    retries_left = self.max_retries - self.request.retries
    redelivered = takeover or bool((self.request.delivery_info or {}).get("redelivered"))
    handled = file_process(
        file_id=file_id, retries_left=retries_left, redelivered=redelivered, takeover=takeover
    )
    if handled.send_again is not SendAgain.NO:
        send_again(
            self,
            countdown=handled.countdown,
            takeover=handled.send_again is SendAgain.TAKEOVER,
        )


def send_again(task, *, countdown: float, takeover: bool) -> None:
    """The same task to the same queue, `countdown` seconds from now; a takeover is sent as
    one, any other with the arguments it came with."""
    queue = (task.request.delivery_info or {}).get("routing_key")
    kwargs = {**task.request.kwargs, **({"takeover": True} if takeover else {})}
    task.signature_from_request(kwargs=kwargs, queue=queue, countdown=countdown).apply_async()


@shared_task(name="files_app.recover_files", ignore_result=True)
def recover_files() -> None:
    files_recover()


@shared_task(
    name=DELIVER_WEBHOOK,
    ignore_result=True,
    soft_time_limit=settings.WEBHOOK_TIMEOUT_SECONDS + 30,
)
def deliver_webhook(delivery_id: str) -> None:
    """One try; the service queues the next one itself (its delay grows past Celery's
    retry budget, and a try a duplicate message finds claimed does nothing)."""
    webhook_deliver(delivery_id=delivery_id)


@shared_task(name="files_app.recover_webhook_deliveries", ignore_result=True)
def recover_webhook_deliveries() -> None:
    webhook_deliveries_recover()
    webhook_deliveries_prune()
