"""Observability: readiness probes, Prometheus metrics, logs (the database's query metrics
are in database.py, since they choose its engine)."""

import os

from project.logs import logging_config
from project.settings.env import env_float, env_int

# Each readiness check (/readyz: database, broker, channel layer, storage) gives up after this
# many seconds and counts its dependency as down.
READINESS_TIMEOUT_SECONDS = env_float("READINESS_TIMEOUT_SECONDS", 2.0)
# /readyz answers from its last check for this many seconds, and runs one check at a time
# however many ask: each check opens new PostgreSQL and broker connections.
READINESS_CACHE_SECONDS = env_float("READINESS_CACHE_SECONDS", 1.0)
# /metrics answers only a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; unset, it
# answers 404 (metrics off on the web port). Compared in constant time.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# A Celery worker serves its own metrics on this port (0: none), on METRICS_WORKER_ADDRESS
# only: a separate port, never published. With prefork pools, set PROMETHEUS_MULTIPROC_DIR
# to a directory of the worker's own so every pool process is counted (project/celery.py).
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0)
METRICS_WORKER_ADDRESS = os.environ.get("METRICS_WORKER_ADDRESS") or "127.0.0.1"
# Distinct GraphQL operation names the latency histogram keeps apart; later ones are "other"
# (clients choose the names: an unbounded label would grow Prometheus without end).
METRICS_MAX_OPERATION_NAMES = env_int("METRICS_MAX_OPERATION_NAMES", 100)
# LOG_FORMAT=json: one JSON object a line (time, level, logger, message, request_id,
# file_id, task_id); anything else: human-readable lines with the same ids in brackets.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "human").strip().lower()
LOGGING = logging_config(
    json_lines=LOG_FORMAT == "json", level=os.environ.get("LOG_LEVEL") or "INFO"
)
