"""The Celery app: `celery -A project worker` processes uploaded files."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def check_database_connections(**kwargs) -> None:
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX: a new
    connection per small file was a tenth of a worker's time). Django's own check replaces a
    kept connection that is broken (a database restart) or older than CONN_MAX_AGE."""
    from django.db import close_old_connections

    close_old_connections()
