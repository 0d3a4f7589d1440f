"""What the edge counts and how its log lines are tied together: the request id of every
HTTP request and websocket, and the Prometheus metrics of requests that never pass through
Django's middleware (POST /graphql/ and websockets; django-prometheus counts the rest).
"""

import re
import threading
import time
import uuid

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

from project.logs import log_context

REQUEST_ID_HEADER = b"x-request-id"
# What a proxy's id may look like to be kept (else a new one is made): no spaces, quotes or
# control characters reach a log line or a response header.
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
GRAPHQL_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]{0,63}")
OPERATION_NAME = re.compile(r"^\s*(?:query|mutation|subscription)\s+(" + GRAPHQL_NAME.pattern + ")")
ANONYMOUS, OTHER = "anonymous", "other"

UPLOADS = Counter(
    "filesvc_uploads",
    "Upload requests, by outcome (accepted or refused) and error code (OK when accepted).",
    ["outcome", "code"],
)
UPLOAD_BYTES = Counter(
    "filesvc_upload_received_bytes", "Bytes of file parts received by the upload ingress."
)
GRAPHQL_SECONDS = Histogram(
    "filesvc_graphql_request_seconds",
    "POST /graphql/ from the first byte to the answer, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
GRAPHQL_ERRORS = Counter(
    "filesvc_graphql_errors",
    "Errors answered by the GraphQL endpoint, by extensions.code.",
    ["code"],
)
WEBSOCKETS = Gauge(
    "filesvc_websocket_connections",
    "Open, authenticated GraphQL websockets.",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "filesvc_subscriptions", "Active fileUpdates subscriptions.", multiprocess_mode="livesum"
)
EVENTS_DELIVERED = Counter("filesvc_events_delivered", "File updates sent to subscribers.")


def request_id_from(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and VALID_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


def with_request_id(app):
    """ASGI middleware: each HTTP request and websocket gets an id, the proxy's
    `X-Request-ID` when it sent a valid one, bound to every line logged while it is handled
    (Django's threads inherit it) and sent back in the `X-Request-ID` response header."""

    async def application(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await app(scope, receive, send)
        request_id = request_id_from(scope)
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        with log_context(request_id=request_id):
            return await app(scope, receive, send_with_id)

    return application


class OperationNames:
    """Operation names as latency labels: the first METRICS_MAX_OPERATION_NAMES distinct
    ones, then OTHER, so a client sending random names cannot grow the metrics."""

    def __init__(self):
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def label(self, operation: dict) -> str:
        name = operation.get("operationName")
        if not isinstance(name, str) or not name:
            found = OPERATION_NAME.match(operation.get("query") or "")
            name = found.group(1) if found else None
        if not name or not GRAPHQL_NAME.fullmatch(name):
            return ANONYMOUS
        with self.lock:
            if name in self.seen:
                return name
            if len(self.seen) < settings.METRICS_MAX_OPERATION_NAMES:
                self.seen.add(name)
                return name
        return OTHER


operation_names = OperationNames()


class GraphQLRequestMetrics:
    """One POST /graphql/: its latency by operation, its errors by code, and for an upload
    its outcome and bytes."""

    def __init__(self):
        self.started = time.perf_counter()
        self.operation = ANONYMOUS
        self.upload = False

    def named(self, operation) -> None:
        if isinstance(operation, dict):
            self.operation = operation_names.label(operation)

    def answered(self, body: dict) -> None:
        GRAPHQL_SECONDS.labels(operation=self.operation).observe(time.perf_counter() - self.started)
        codes = [
            (error.get("extensions") or {}).get("code") or "UNKNOWN"
            for error in body.get("errors") or ()
        ]
        for code in codes:
            GRAPHQL_ERRORS.labels(code=code).inc()
        if self.upload:
            code = codes[0] if codes else "OK"
            UPLOADS.labels(outcome="refused" if codes else "accepted", code=code).inc()
