"""The Celery app: `celery -A project worker` processes uploaded files."""

import logging
import os
import resource

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)
MIB = 1024 * 1024


@signals.task_prerun.connect
def check_database_connections(**kwargs) -> None:
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX: a new
    connection per small file was a tenth of a worker's time). Django's own check replaces a
    kept connection that is broken (a database restart) or older than CONN_MAX_AGE."""
    from django.db import close_old_connections

    close_old_connections()


def address_space() -> int | None:
    """Bytes of address space this process has mapped now (Linux), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@signals.worker_process_init.connect
def limit_task_memory(**kwargs) -> None:
    """A file that needs more memory than PROCESSING_MEMORY_LIMIT gets a MemoryError (the
    file ends FAILED) instead of the kernel's OOM killer choosing a process on the host.

    RLIMIT_AS counts address space, not resident memory, so the limit is what the process
    has mapped when its pool starts plus the setting: the interpreter and Django are not
    counted, while what it maps later is, a thread's stack and malloc arena included (up to
    72 MiB reserved each, mostly never touched). Sent in each prefork child and in a solo
    worker, where a task is the only one running; the threads pool sends no such signal
    (its tasks share one process), so it runs without this limit.
    """
    from django.conf import settings

    extra = settings.PROCESSING_MEMORY_LIMIT * MIB
    mapped = address_space()
    if extra <= 0 or mapped is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + extra if hard == resource.RLIM_INFINITY else min(mapped + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    logger.info("Processing memory limited to %d MiB of address space", limit // MIB)
