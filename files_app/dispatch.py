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
