"""The Celery app: `celery -A project worker` processes uploaded files."""

import logging
import os
import resource
from pathlib import Path

from celery import Celery, signals

from files_app.dispatch import PROCESS_FILE
from files_app.sizes import MIB
from project import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Before any metric exists (docs/operations.md, "Metrics").
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "request_id"


@signals.before_task_publish.connect
def send_request_id(headers=None, **kwargs) -> None:
    """A task sent while handling a request carries the request's id to the worker."""
    request_id = logs.context["request_id"].get()
    if request_id is not None and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@signals.task_prerun.connect
def bind_task_ids(task_id=None, task=None, args=(), kwargs=None, **extra) -> None:
    """Every line a task logs carries its task id, the request id that sent it, and for
    `process_file` the file id: one grep follows a file from the upload through here."""
    file_id = None
    if task.name == PROCESS_FILE:
        file_id = (kwargs or {}).get("file_id") or (args[0] if args else None)
    request_id = getattr(task.request, REQUEST_ID_HEADER, None)
    task.request.log_tokens = logs.bind(task_id=task_id, file_id=file_id, request_id=request_id)


@signals.task_postrun.connect
def unbind_task_ids(task=None, **kwargs) -> None:
    logs.unbind(getattr(task.request, "log_tokens", None) or [])


@signals.task_prerun.connect
def check_database_connections(**kwargs) -> None:
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX: a new
    connection per small file would be a tenth of a worker's time). Django's own check replaces a
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


@signals.worker_init.connect
def load_outside_processors(**kwargs) -> None:
    """The processors FILE_PROCESSORS names, imported before the pool starts (each pool
    process inherits them): one that cannot be loaded stops the worker here, with why, rather
    than failing every file it would have processed."""
    from files_app.processors import ProcessorConfigError
    from files_app.services.processing import file_processors

    try:
        loaded = file_processors()
    except ProcessorConfigError as error:
        logger.critical("%s", error)
        raise SystemExit(1) from None  # a signal handler's Exception would only be logged
    for processor in (*loaded.own_kinds, *loaded.replacing.values()):
        logger.info("Processor from outside: %s for %s", processor.path, processor.kind)


@signals.worker_init.connect
def serve_worker_metrics(**kwargs) -> None:
    """The worker's own metrics port (METRICS_WORKER_PORT): processing times, events and
    the sweep's counts happen here, not in the web process. Prefork pool processes each
    count apart: with PROMETHEUS_MULTIPROC_DIR set, this process serves the sum of all of
    them (files left there by an earlier run of the worker are removed first)."""
    from django.conf import settings
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    if not settings.METRICS_WORKER_PORT:
        return
    registry = REGISTRY
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for stale in Path(directory).glob("*.db"):
            if not stale.stem.endswith(f"_{os.getpid()}"):
                stale.unlink(missing_ok=True)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(
        settings.METRICS_WORKER_PORT, addr=settings.METRICS_WORKER_ADDRESS, registry=registry
    )
    logger.info(
        "Worker metrics on %s:%d", settings.METRICS_WORKER_ADDRESS, settings.METRICS_WORKER_PORT
    )
