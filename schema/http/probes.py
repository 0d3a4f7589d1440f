"""GET /healthz, /readyz and /metrics, answered in front of Django (schema/http/asgi.py): a probe
or a scraper reaches a pod by its address, which no ALLOWED_HOSTS lists, and a liveness
check must not wait behind the middleware or the database.

- /healthz: the process serves requests (no dependency is touched): 200.
- /readyz: the database, the broker, the channel layer and the storage each answer within
  READINESS_TIMEOUT_SECONDS (checked at once, side by side): 200, else 503 naming what is
  down. Only names: an error's text can carry a host, a user or a path. A check opens new
  PostgreSQL and broker connections, so its answer is kept READINESS_CACHE_SECONDS and one
  check runs at a time, however many ask (the proxy does not pass /readyz or /metrics on:
  they are for probes and scrapers inside the network, deploy/nginx.conf.template).
- /metrics: Prometheus' text format, for `Authorization: Bearer <METRICS_TOKEN>` only (404
  while no token is set, 401 for a wrong one).
"""

import asyncio
import functools
import hmac
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from files_app import dependencies
from files_app.metrics import WorkloadCollector

from ..errors import EdgeError, ErrorCode
from .transport import JSON, answer, json_bytes, unread_request

logger = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OK = {"status": "ok"}
# Checks may hang on an unreachable host: they get threads of their own, never the
# GraphQL endpoint's database threads.
PROBE_THREADS = 4


@functools.cache
def probe_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")


async def in_probe_thread(function, **kwargs):
    def run():
        try:
            return function(**kwargs)
        finally:
            connections.close_all()  # a probe every few seconds: keep no connection open

    return await sync_to_async(run, thread_sensitive=False, executor=probe_threads())()


async def channel_layer_check() -> None:
    """A PING to each Redis server the channel layer shards across (bounded by the caller's
    timeout)."""
    layer = get_channel_layer()
    for index in range(layer.ring_size):
        await layer.connection(index).ping()


def checks(timeout: float) -> dict:
    return {
        "database": in_probe_thread(dependencies.database_check),
        "broker": in_probe_thread(dependencies.broker_check, timeout=timeout),
        "channel_layer": channel_layer_check(),
        "storage": in_probe_thread(dependencies.storage_check, timeout=timeout),
    }


async def down_dependencies() -> list[str]:
    timeout = settings.READINESS_TIMEOUT_SECONDS
    pending = checks(timeout)
    results = await asyncio.gather(
        *(asyncio.wait_for(check, timeout) for check in pending.values()), return_exceptions=True
    )
    down = []
    for name, result in zip(pending, results, strict=True):
        if isinstance(result, BaseException):
            down.append(name)
            logger.warning("Readiness: %s is down (%s)", name, type(result).__name__)
    return down


class Readiness:
    """The last check's answer while it is fresh, and one check at a time: a burst of probes
    (or anyone who reaches the port) costs one set of connections a READINESS_CACHE_SECONDS."""

    def __init__(self):
        self.checked_at = -math.inf
        self.down: list[str] = []
        self.running: asyncio.Task | None = None

    async def down_dependencies(self) -> list[str]:
        if time.monotonic() - self.checked_at < settings.READINESS_CACHE_SECONDS:
            return self.down
        loop = asyncio.get_running_loop()
        if self.running is None or self.running.get_loop() is not loop:
            self.running = loop.create_task(self.check())
        return await asyncio.shield(self.running)

    async def check(self) -> list[str]:
        try:
            self.down = await down_dependencies()
            self.checked_at = time.monotonic()
            return self.down
        finally:
            if self.running is asyncio.current_task():
                self.running = None


READINESS = Readiness()


@functools.cache
def metrics_registry():
    """Every metric of this process (or, with PROMETHEUS_MULTIPROC_DIR, of all the web
    processes sharing that folder), plus the figures read when scraped."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    registry.register(WorkloadCollector())
    return registry


def scrape() -> bytes:
    return generate_latest(metrics_registry())


def authorized(scope) -> bool:
    sent = dict(scope.get("headers", ())).get(b"authorization", b"")
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    return hmac.compare_digest(sent, expected)


async def probe(scope, receive, send, path: str) -> None:
    try:
        status, body, content_type = await probed(scope, path)
    except EdgeError as error:  # a refused probe request gets the one JSON error body
        status, body, content_type = error.status, json_bytes(error.body()), JSON
    await answer(send, unread_request(scope), status, body, content_type=content_type)


async def probed(scope, path: str) -> tuple[int, bytes, str]:
    if scope["method"] not in ("GET", "HEAD"):
        raise EdgeError("Probes answer GET and HEAD.", ErrorCode.BAD_REQUEST, status=405)
    elif path == "/healthz":
        return 200, json_bytes(OK), JSON
    elif path == "/readyz":
        down = await READINESS.down_dependencies()
        if down:
            return 503, json_bytes({"status": "unavailable", "down": down}), JSON
        return 200, json_bytes(OK), JSON
    elif not settings.METRICS_TOKEN:
        raise EdgeError("Not found.", ErrorCode.NOT_FOUND)
    elif not authorized(scope):
        raise EdgeError("Send `Authorization: Bearer <METRICS_TOKEN>`.", ErrorCode.UNAUTHENTICATED)
    return 200, await in_probe_thread(scrape), CONTENT_TYPE_LATEST
