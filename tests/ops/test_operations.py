"""Operable in production, on real processes: the probes with each dependency down in turn,
/metrics scraped after real uploads and processing, one file followed through the JSON logs
of the web process and the worker, and no secret in any log line."""

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from files_app.models import File, FileStatus
from files_app.tasks import recover_files
from tests.support.graphql import asgi_request
from tests.support.processes import BASE_DIR, Server, wait_until
from tests.support.tcp_proxy import TcpProxy
from tests.support.users import PASSWORD
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

METRICS_TOKEN = "metrics-" + secrets.token_urlsafe(24)
# The database password in the server's connection string (PostgreSQL's; SQLite has none):
# never answered, never logged.
DEPENDENCY_SECRET = "dependency-" + secrets.token_urlsafe(16)
# What the uploaded files hold: never logged.
CONTENT_MARKER = "file-content-" + secrets.token_urlsafe(12)
FILE_FIELDS = "id status kind"
UPLOAD_ONE = f"mutation UploadOne($file: Upload!) {{ uploadFile(file: $file) {{ {FILE_FIELDS} }} }}"
UPLOAD_MANY = (
    f"mutation UploadMany($files: [Upload!]!) {{ uploadFiles(files: $files) {{ {FILE_FIELDS} }} }}"
)
SUBSCRIBE = f"subscription {{ fileUpdates {{ {FILE_FIELDS} }} }}"


DEPENDENCIES = ("database", "broker", "channel_layer", "storage")


class Dependencies:
    """What the server reaches its dependencies through, so a test can stop each in turn:
    Redis (twice: as the broker and as the channel layer) behind a TCP proxy, the media
    folder behind a symlink that can be pointed at a plain file, and the database in use:
    PostgreSQL behind a TCP proxy, or SQLite's file behind a symlink that can be pointed
    into a folder that does not exist."""

    def __init__(self, tmp_path):
        db = settings.DATABASES["default"]
        redis = urlsplit(os.environ["REDIS_URL"])
        self.proxies = {
            "broker": TcpProxy(redis.port),
            "channel_layer": TcpProxy(redis.port),
        }
        # name -> (symlink, its target while up, its target while down)
        self.links = {"storage": (tmp_path / "media", settings.MEDIA_ROOT, tmp_path / "file")}
        (tmp_path / "file").write_text("")
        if connection.vendor == "postgresql":
            self.proxies["database"] = TcpProxy(int(db["PORT"] or 5432))
            # A password that trust authentication ignores: answered or logged nowhere.
            database_url = (
                f"postgres://{db['USER']}:{DEPENDENCY_SECRET}@127.0.0.1:"
                f"{self.proxies['database'].port}/{db['NAME']}"
            )
        else:
            database = tmp_path / "db.sqlite3"
            self.links["database"] = (database, db["NAME"], tmp_path / "absent" / "db.sqlite3")
            database_url = f"sqlite:///{database}"
        for link, target, _down in self.links.values():
            link.symlink_to(target)  # the media folder is the worker's: it reads the files
        redis_at = f"redis://127.0.0.1:{{}}{redis.path}"
        self.env = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_at.format(self.proxies["broker"].port),
            "CHANNEL_REDIS_HOSTS": redis_at.format(self.proxies["channel_layer"].port),
            "MEDIA_ROOT": str(self.links["storage"][0]),
        }

    def point(self, name: str, *, up: bool) -> None:
        link, target, down = self.links[name]
        link.unlink()
        link.symlink_to(target if up else down)

    @contextlib.contextmanager
    def down(self, name: str):
        if name in self.links:
            self.point(name, up=False)
        else:
            self.proxies[name].stop()
        try:
            yield
        finally:
            if name in self.links:
                self.point(name, up=True)
            else:
                self.proxies[name].start()


@pytest.fixture(scope="module")
def dependencies(django_db_setup, tmp_path_factory):
    found = Dependencies(tmp_path_factory.mktemp("dependencies"))
    yield found
    for proxy in found.proxies.values():
        proxy.stop()


@pytest.fixture(scope="module")
def server(django_db_setup, process_logs, dependencies):
    """JSON logs with uvicorn's access lines, /metrics behind a token, every dependency
    reached through `dependencies`."""
    env = {**dependencies.env, "LOG_FORMAT": "json", "METRICS_TOKEN": METRICS_TOKEN}
    started = Server("uvicorn", process_logs, env=env, log_level="info")
    yield started
    started.stop()


def scrape(url: str, token: str | None = METRICS_TOKEN) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def exposed_names(url: str) -> set[str]:
    """Every series name a scrape declares, also those with no sample yet (a labelled
    counter nothing has counted, e.g. database errors)."""
    response = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    names = set()
    for family in text_string_to_metric_families(response.text):
        suffix = {"counter": "_total", "histogram": "_bucket"}.get(family.type, "")
        names |= {family.name, family.name + suffix}
        names |= {sample.name for sample in family.samples}
    return names


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def upload(server, token, query, files: dict, request_id=None) -> httpx.Response:
    """`files`: variable path -> (name, bytes); one file variable or a list of them."""
    paths = list(files)
    variables = {"file": None} if paths == ["variables.file"] else {"files": [None] * len(paths)}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if request_id:
        headers["X-Request-ID"] = request_id
    return httpx.post(
        f"{server.url}/graphql/",
        headers=headers,
        timeout=30,
        data={
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({str(i): [path] for i, path in enumerate(paths)}),
        },
        files={str(i): files[path] for i, path in enumerate(paths)},
    )


def global_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return [item["id"] for item in body["data"].get("uploadFiles") or [body["data"]["uploadFile"]]]


def uploaded_ids(response: httpx.Response) -> list[str]:
    return [File.objects.get(pk=decode(global_id)).pk for global_id in global_ids(response)]


def decode(global_id: str) -> str:
    from strawberry.relay import GlobalID

    return GlobalID.from_id(global_id).node_id


def wait_finished(ids, timeout=30) -> None:
    wait_until(
        lambda: File.objects.filter(pk__in=ids, status=FileStatus.DONE).count() == len(ids),
        timeout,
        f"files {ids} were not processed",
    )


def json_lines(path) -> list[dict]:
    """The JSON lines of a process's output (Celery's start banner is plain text)."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


# --- probes -----------------------------------------------------------------------------


def ready(server) -> httpx.Response:
    started = time.monotonic()
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert time.monotonic() - started < settings.READINESS_TIMEOUT_SECONDS + 2
    return response


def test_readyz_names_each_dependency_stopped_in_turn_and_nothing_more(server, dependencies):
    assert ready(server).status_code == 200
    assert ready(server).json() == {"status": "ok"}
    for name in DEPENDENCIES:
        with dependencies.down(name):
            # The last answer may be kept READINESS_CACHE_SECONDS.
            wait_until(lambda: ready(server).status_code == 503, 10, f"{name} down, still ready")
            response = ready(server)
            assert response.status_code == 503, name
            assert response.json() == {"status": "unavailable", "down": [name]}
            assert DEPENDENCY_SECRET not in response.text + str(response.headers)
            # Liveness depends on none of them.
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        wait_until(lambda: ready(server).status_code == 200, 10, f"{name} came back, not ready")
    assert DEPENDENCY_SECRET not in server.log.read_text()


def test_readiness_is_checked_once_a_second_however_often_it_is_asked(server, dependencies):
    """Each check opens a broker connection (and, on PostgreSQL, a database one): 100 /readyz,
    8 at a time, open about one a READINESS_CACHE_SECONDS, not one each (counted at the test's
    proxy in front of the broker, which stands on both databases)."""
    broker = dependencies.proxies["broker"]
    wait_until(lambda: ready(server).status_code == 200, 10, "not ready to start with")
    opened, started = broker.accepted, time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: ready(server).status_code, range(100)))
    seconds = time.monotonic() - started
    assert statuses == [200] * 100
    connections = broker.accepted - opened
    checks = seconds / settings.READINESS_CACHE_SECONDS + 2
    # kombu's Redis transport opens two per check: one to see the broker answer, one for the
    # channel that reads the queue's length. Without the cache: 200.
    assert connections <= 2 * checks, (connections, seconds)


def test_metrics_need_the_token(server):
    refused = httpx.get(f"{server.url}/metrics", timeout=5)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong = {"Authorization": f"Bearer {METRICS_TOKEN}x"}
    assert httpx.get(f"{server.url}/metrics", headers=wrong, timeout=5).status_code == 401
    # No METRICS_TOKEN set (the tests' own settings): no metrics on the web port at all.
    assert asgi_request("GET", "/metrics", headers=wrong).status_code == 404


def test_request_ids_are_taken_from_the_proxy_or_made_and_returned():
    sent = asgi_request("GET", "/healthz", headers={"X-Request-ID": "proxy-id-1"})
    assert sent.headers["x-request-id"] == "proxy-id-1"
    made = asgi_request("GET", "/accounts/login/", headers={"X-Request-ID": "no spaces\tallowed"})
    assert len(made.headers["x-request-id"]) == 32 and made.status_code == 200
    graphql = asgi_request("POST", "/graphql/", json={"query": "{ __typename }"})
    assert len(graphql.headers["x-request-id"]) == 32


# --- metrics, logs ----------------------------------------------------------------------


def test_metrics_move_by_what_was_uploaded_and_processed(server, celery_worker, user, token):
    web_before, worker_before = scrape(f"{server.url}/metrics"), scrape(celery_worker.metrics_url)
    sizes = [11, 2048, 70_000]
    contents = [(CONTENT_MARKER * (size // len(CONTENT_MARKER) + 1))[:size] for size in sizes]

    async def watched_uploads():
        subscription = await Subscription.open(server.ws_url, token=token)
        await subscription.subscribe(SUBSCRIBE, owner=user)
        live = scrape(f"{server.url}/metrics")
        one = await asyncio.to_thread(
            upload, server, token, UPLOAD_ONE, {"variables.file": ("a.txt", contents[0])}
        )
        many = await asyncio.to_thread(
            upload,
            server,
            token,
            UPLOAD_MANY,
            {
                "variables.files.0": ("b.txt", contents[1]),
                "variables.files.1": ("c.txt", contents[2]),
            },
        )
        uploaded, done = set(global_ids(one) + global_ids(many)), set()
        async with asyncio.timeout(30):
            while done != uploaded:
                file = await subscription.next_file()
                if file["status"] == FileStatus.DONE:
                    done.add(file["id"])
        await subscription.close()
        return live, [decode(global_id) for global_id in uploaded]

    live, ids = asyncio.run(watched_uploads())
    refused_empty = upload(server, token, UPLOAD_ONE, {"variables.file": ("e.txt", b"")})
    assert refused_empty.json()["errors"][0]["extensions"]["code"] == "INVALID_UPLOAD"
    refused_anonymous = upload(server, None, UPLOAD_ONE, {"variables.file": ("f.txt", b"x")})
    assert refused_anonymous.status_code == 401
    wait_finished(ids)
    kind = File.objects.get(pk=ids[0]).kind

    assert (
        value(live, "filesvc_websocket_connections")
        - value(web_before, "filesvc_websocket_connections")
        == 1
    )
    assert value(live, "filesvc_subscriptions") - value(web_before, "filesvc_subscriptions") == 1
    # The socket's close reaches the server a moment after the client's.
    wait_until(
        lambda: (
            value(scrape(f"{server.url}/metrics"), "filesvc_subscriptions")
            == value(web_before, "filesvc_subscriptions")
        ),
        10,
        "the subscription gauge did not come down",
    )
    web, worker = scrape(f"{server.url}/metrics"), scrape(celery_worker.metrics_url)

    def moved(samples, before, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    assert moved(web, web_before, "filesvc_uploads_total", outcome="accepted", code="OK") == 2
    assert (
        moved(web, web_before, "filesvc_uploads_total", outcome="refused", code="INVALID_UPLOAD")
        == 1
    )
    assert (
        moved(web, web_before, "filesvc_uploads_total", outcome="refused", code="UNAUTHENTICATED")
        == 1
    )
    assert moved(web, web_before, "filesvc_upload_received_bytes_total") == sum(sizes)
    assert moved(web, web_before, "filesvc_files_accepted_total", kind=kind) == 3
    assert moved(web, web_before, "filesvc_files", status="DONE") == 3
    assert moved(web, web_before, "filesvc_events_published_total") == 3  # PENDING, each
    assert moved(web, web_before, "filesvc_events_delivered_total") >= 6  # PROCESSING, DONE
    assert (
        moved(web, web_before, "filesvc_graphql_request_seconds_count", operation="UploadOne") == 2
    )
    assert (
        moved(web, web_before, "filesvc_graphql_request_seconds_count", operation="UploadMany") == 1
    )
    assert moved(web, web_before, "filesvc_graphql_errors_total", code="INVALID_UPLOAD") == 1
    assert ("filesvc_queue_length", frozenset()) in web
    assert value(web, "filesvc_oldest_pending_age_seconds") == 0
    assert moved(worker, worker_before, "filesvc_processing_seconds_count", kind=kind) == 3
    assert (
        moved(worker, worker_before, "filesvc_files_processed_total", kind=kind, status="DONE") == 3
    )
    assert moved(worker, worker_before, "filesvc_events_published_total") >= 6
    # Django's own routes are counted by django-prometheus.
    assert any(name.startswith("django_http_requests") for name, _ in web)


def test_the_recovery_sweep_counts_what_it_requeued(celery_worker, user):
    before = scrape(celery_worker.metrics_url)
    stuck = File.objects.create(owner=user, name="stuck.txt", size=1, stored_file="missing")
    old = timezone.now() - timedelta(seconds=settings.FILE_RECOVERY_AFTER + 60)
    File.objects.filter(pk=stuck.pk).update(updated_at=old)
    recover_files.delay()
    wait_until(
        lambda: (
            value(
                scrape(celery_worker.metrics_url),
                "filesvc_recovery_files_total",
                outcome="requeued",
            )
            - value(before, "filesvc_recovery_files_total", outcome="requeued")
            == 1
        ),
        20,
        "the sweep's re-queue was not counted",
    )


def test_one_file_id_follows_a_file_through_web_and_worker_logs(server, celery_worker, token):
    request_id = "follow-" + secrets.token_hex(6)
    response = upload(
        server,
        token,
        UPLOAD_ONE,
        {"variables.file": ("g.txt", CONTENT_MARKER.encode())},
        request_id,
    )
    assert response.headers["x-request-id"] == request_id
    [file_id] = uploaded_ids(response)
    wait_finished([file_id])
    file_id = str(file_id)

    def about_the_file(path, *messages):
        wait_until(
            lambda: all(
                any(
                    line["message"].startswith(message)
                    for line in json_lines(path)
                    if line.get("file_id") == file_id
                )
                for message in messages
            ),
            10,
            f"{path.name}: no line {messages} about {file_id}",
        )
        return [line for line in json_lines(path) if line.get("file_id") == file_id]

    web = about_the_file(server.log, "File accepted", "Published: PENDING", "Queued for processing")
    worker = about_the_file(
        celery_worker.log,
        "Processing started",
        "Published: PROCESSING",
        "Published: DONE",
        "Processing ended: DONE",
    )
    assert {line["request_id"] for line in web} == {request_id}
    assert {line.get("request_id") for line in worker} == {request_id}
    assert all(line.get("task_id") for line in worker)
    for line in web + worker:
        assert {"time", "level", "logger", "message"} <= set(line)


def test_no_secret_token_or_file_content_is_logged(server, celery_worker, user, token):
    """A client that puts credentials in a query string (access log lines name the path),
    a probe with dependencies down, uploads and processing: none of the secrets or the bytes
    of a file appear in any line of the web or worker log."""
    [file_id] = uploaded_ids(
        upload(server, token, UPLOAD_ONE, {"variables.file": ("h.txt", CONTENT_MARKER.encode())})
    )
    for query in (f"token={token}", f"password={PASSWORD}", f"api_key={METRICS_TOKEN}"):
        httpx.get(f"{server.url}/healthz?{query}", timeout=5)
    httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    wait_finished([file_id])
    logs = server.log.read_text() + celery_worker.log.read_text()
    assert "/healthz?token=" in logs  # the lines are there, masked
    for secret in (token, PASSWORD, METRICS_TOKEN, settings.SECRET_KEY, CONTENT_MARKER):
        assert secret not in logs


def test_the_dashboard_is_built_on_metrics_the_service_exposes(server, celery_worker):
    """docs/grafana-dashboard.json imports as is, and names no metric that does not exist."""
    dashboard = json.loads((BASE_DIR / "docs" / "grafana-dashboard.json").read_text())
    exposed = exposed_names(f"{server.url}/metrics") | exposed_names(celery_worker.metrics_url)
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:filesvc|django)_\w+)", target["expr"])
    }
    if connection.vendor != "postgresql":  # DATABASE_METRICS instruments PostgreSQL only
        used = {name for name in used if not name.startswith("django_db_")}
    assert used and used <= exposed, used - exposed


def test_operation_names_past_the_limit_share_one_label(settings):
    from schema.observability import OperationNames

    settings.METRICS_MAX_OPERATION_NAMES = 2
    names = OperationNames()
    labels = [names.label({"operationName": name}) for name in ("A", "B", "C", "A")]
    assert labels == ["A", "B", "other", "A"]
    assert names.label({"query": "query Named { files { totalCount } }"}) == "other"
    assert names.label({"query": "{ files { totalCount } }"}) == "anonymous"
    assert names.label({"operationName": "not a name"}) == "anonymous"


def test_json_lines_hold_a_fixed_set_of_keys():
    """Whatever a library attaches to a record (Django's request, with its headers) is left
    out; the bound ids are in."""
    from project.logs import ContextFilter, JsonLines, log_context

    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None
    )
    record.request, record.status_code = object(), 404
    with log_context(request_id="r-1", file_id="f-1"):
        ContextFilter().filter(record)
    line = json.loads(JsonLines().format(record))
    assert set(line) == {"time", "level", "logger", "message", "request_id", "file_id"}
    assert line["message"] == "Not Found: /x" and line["file_id"] == "f-1"


def test_the_workers_liveness_check_answers(celery_worker):
    """The compose worker's healthcheck command, as written there, against the suite's
    running worker."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from tests.support.processes import subprocess_env

    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    kind, command = compose["services"]["worker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = command.replace("$$", "$")  # compose's escape: the shell sees `$(hostname)`
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # the venv's celery
    env = {**subprocess_env(), "PATH": path}
    result = subprocess.run(
        ["sh", "-c", command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout
