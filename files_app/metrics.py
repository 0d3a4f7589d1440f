"""Prometheus metrics of the domain, counted where the work happens (the web process for
uploads, the worker for processing and the sweep; both publish events), and the figures
read from the database and the broker when Prometheus scrapes (`WorkloadCollector`).

Names and labels are listed in docs/operations.md ("Metrics"); the Grafana dashboard in
docs/grafana-dashboard.json is built on them. Labels take values from fixed sets only (a
file kind, a status, an error code), never from what a client sends.
"""

import logging
import time

from django.conf import settings
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from . import dependencies, selectors
from .models import FileStatus

logger = logging.getLogger(__name__)

FILES_ACCEPTED = Counter("filesvc_files_accepted", "Files stored by an accepted upload.", ["kind"])
PROCESSING_SECONDS = Histogram(
    "filesvc_processing_seconds",
    "Time one run of a file's processing took, by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
FILES_PROCESSED = Counter(
    "filesvc_files_processed",
    "Processing runs that ended, by kind and the status they ended in.",
    ["kind", "status"],
)
EVENTS_PUBLISHED = Counter(
    "filesvc_events_published",
    "File updates sent to the live channel (from web processes and workers).",
)
RECOVERED = Counter(
    "filesvc_recovery_files",
    "Stuck files the recovery sweep queued again (requeued) or gave up on (failed).",
    ["outcome"],
)


class processing_timer:  # lower case: used as a context manager, like a function
    """Observe one processing run: its duration by kind, and how it ended."""

    def __init__(self, kind: str):
        self.kind = kind

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        PROCESSING_SECONDS.labels(kind=self.kind).observe(time.perf_counter() - self.started)

    def ended(self, status: str) -> None:
        FILES_PROCESSED.labels(kind=self.kind, status=status).inc()


class WorkloadCollector:
    """Files by status, the oldest PENDING file's age and the broker's queue length, read
    when scraped (blocking: the scrape runs in a thread). A dependency that does not answer
    leaves its figures out of that scrape rather than failing it; /readyz says which."""

    def describe(self):
        """Nothing up front: registering must not query the database."""
        return []

    def collect(self):
        try:
            workload = selectors.file_workload()
        except Exception:
            logger.warning("Metrics: the database did not answer", exc_info=True)
        else:
            files = GaugeMetricFamily("filesvc_files", "Files by status.", labels=["status"])
            for status in FileStatus.values:
                files.add_metric([status], workload.by_status.get(status, 0))
            yield files
            age = 0.0
            if workload.oldest_pending is not None:
                age = max(0.0, time.time() - workload.oldest_pending.timestamp())
            yield GaugeMetricFamily(
                "filesvc_oldest_pending_age_seconds",
                "How long the oldest PENDING file has waited (0: none).",
                value=age,
            )
        try:
            length = dependencies.broker_queue_length(timeout=settings.READINESS_TIMEOUT_SECONDS)
        except Exception:
            logger.warning("Metrics: the broker did not answer", exc_info=True)
        else:
            yield GaugeMetricFamily(
                "filesvc_queue_length", "Tasks waiting in the broker's queue.", value=length
            )
