"""The one place that queues a file for processing, and announces a new one.

Services send the task by its name, so they never import `tasks.py` (which imports the
services it calls): the dependency runs one way, tasks → services → dispatch. Sending by name
goes through the same Celery app as `process_file.delay()` did: its routes (`task_routes`),
the `before_task_publish` signal that adds the request id header (project/celery.py) and the
broker's publish retries all apply. Importing this module loads neither Django models nor
the tasks, so `project/celery.py` can take the task's name from here.
"""

import contextvars
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import current_app

logger = logging.getLogger(__name__)

PROCESS_FILE = "files_app.process_file"


def file_enqueue(*, file_id, recovered: bool = False) -> None:
    """Queue `file_id` for `tasks.process_file`. No result is kept (the task ignores its
    result); asking for one would make this process listen for it on the result backend.
    `recovered`: queued again by the recovery sweep, so ahead of every file queued since
    (RECOVERED_FILE_PRIORITY); others get the default (task_default_priority, which a task
    sent by name does not get by itself)."""
    from django.conf import settings

    priority = (
        settings.RECOVERED_FILE_PRIORITY if recovered else current_app.conf.task_default_priority
    )
    current_app.send_task(PROCESS_FILE, args=[str(file_id)], ignore_result=True, priority=priority)


def file_announce(*, file) -> None:
    """Publish a new file's state and queue it; raises when Redis is away."""
    from . import events  # here, not above: events loads the models

    events.publish_file_update(file)
    file_enqueue(file_id=file.pk)
    logger.info("Queued for processing", extra={"file_id": str(file.pk)})


def file_announce_later(*, file) -> None:
    """`file_announce` on this process's background thread, after an upload commits; a
    failure is logged, never raised."""
    background.submit(announce_quietly, file)


def announce_quietly(file) -> None:
    try:
        file_announce(file=file)
    except Exception:  # Redis away: the recovery sweep queues the file later
        logger.exception("Could not queue file %s for processing", file.pk)


class Background:
    """One thread of this process that runs after-commit work in order, so an upload's answer
    does not wait for its announcement and task (two Redis round trips, a third of a small
    upload's time, measured). Started lazily, and again in a forked child (threads do not
    survive a fork). Work still queued when the process exits normally is finished first; a
    killed process loses it, and the recovery sweep queues those files."""

    def __init__(self):
        self.executor: ThreadPoolExecutor | None = None
        self.pid = None
        self.lock = threading.Lock()

    def submit(self, function, *args) -> None:
        with self.lock:
            if self.executor is None or self.pid != os.getpid():
                self.executor = ThreadPoolExecutor(1, thread_name_prefix="after-commit")
                self.pid = os.getpid()
            # In the submitter's context: its log lines keep the request's id.
            self.executor.submit(contextvars.copy_context().run, function, *args)


background = Background()


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
