"""The one place that queues a file for processing.

Services send the task by its name, so they never import `tasks.py` (which imports the
services it calls): the dependency runs one way, tasks → services → dispatch. Sending by name
goes through the same Celery app as `process_file.delay()` did: its routes (`task_routes`),
the `before_task_publish` signal that adds the request id header (project/celery.py) and the
broker's publish retries all apply. Importing this module loads neither Django models nor
the tasks, so `project/celery.py` can take the task's name from here.
"""

from celery import current_app

PROCESS_FILE = "files_app.process_file"


def file_enqueue(*, file_id) -> None:
    """Queue `file_id` for `tasks.process_file`. No result is kept (the task ignores its
    result); asking for one would make this process listen for it on the result backend."""
    current_app.send_task(PROCESS_FILE, args=[str(file_id)], ignore_result=True)


DELIVER_WEBHOOK = "files_app.deliver_webhook"


def webhook_delivery_enqueue(*, delivery_id, countdown: float | None = None) -> None:
    """Queue one try of a webhook delivery (`tasks.deliver_webhook`), `countdown` seconds from
    now, on WEBHOOK_DELIVERY_QUEUE (empty: the default queue)."""
    from django.conf import settings

    queue = settings.WEBHOOK_DELIVERY_QUEUE or None
    current_app.send_task(
        DELIVER_WEBHOOK,
        args=[str(delivery_id)],
        countdown=countdown,
        queue=queue,
        ignore_result=True,
    )
