"""Fixtures: users and tokens, GraphQL clients, and the real processes the end-to-end tests
talk to (a Celery worker, uvicorn and daphne servers) on loopback."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model

from files_app import services
from tests.settings import free_port

PASSWORD = "correct-horse-battery-staple"
BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 30


# --- users and clients --------------------------------------------------------------------

@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("carol", password=PASSWORD, is_staff=True)


def grant_every_file_right(user) -> None:
    """What makes staff see, delete and reprocess everyone's files (File.Meta.permissions)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.set(Permission.objects.filter(content_type__app_label="files_app",
                                                        codename__endswith="_file"))


@pytest.fixture
def token(user):
    return services.api_token_create(user=user)


@pytest.fixture
def other_token(other_user):
    return services.api_token_create(user=other_user)


@pytest.fixture
def staff_token(staff_user):
    return services.api_token_create(user=staff_user)


def asgi_request(method: str, path: str, **kwargs) -> httpx.Response:
    """One request through the real ASGI application, in-process: the same routing and
    GraphQL endpoint uvicorn serves. Its blocking work runs on this thread (asgiref's
    thread-sensitive rule), so it shares the test's database connection and transaction."""
    from project.asgi import application

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.request(method, path, **kwargs)

    return async_to_sync(send)()


BOUNDARY = "test-boundary-7MA4YWxkTrZu0gW"


def multipart_body(parts: list[tuple]) -> tuple[bytes, str]:
    """(body, content type) of a multipart request with exactly these parts, in this order:
    (name, value) for a field, (name, bytes, file name) for a file."""
    body = bytearray()
    for name, value, *filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename[0]}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value.encode() if isinstance(value, str) else value
        body += b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={BOUNDARY}"


class GraphQL:
    """GraphQL over HTTP through the real endpoint; sends the Django test client's cookies
    (a `client.force_login` session) and, with a token, `Authorization: Bearer`."""

    def __init__(self, client, token=None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, headers: dict | None = None, **kwargs) -> httpx.Response:
        cookies = "; ".join(f"{key}={morsel.value}" for key, morsel in self.client.cookies.items())
        sent = {**self.headers, **({"Cookie": cookies} if cookies else {}), **(headers or {})}
        return asgi_request("POST", "/graphql/", headers=sent, **kwargs)

    def __call__(self, query: str, **variables):
        return self.post(json={"query": query, "variables": variables}).json()

    def upload(self, query: str, files: dict, variables: dict, file_map: dict | None = None,
               headers: dict | None = None):
        """A GraphQL multipart request: `files` maps part names to (name, bytes)."""
        data = {
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps(
                file_map if file_map is not None
                else {part: [f"variables.{part}"] for part in files}
            ),
        }
        return self.post(data=data, files=files, headers=headers)

    def multipart(self, parts: list[tuple]) -> httpx.Response:
        body, content_type = multipart_body(parts)
        return self.post(content=body, headers={"Content-Type": content_type})


@pytest.fixture
def gql(client, token):
    return GraphQL(client, token)


@pytest.fixture
def other_gql(client, other_token):
    return GraphQL(client, other_token)


# --- real processes -----------------------------------------------------------------------

POLL_SECONDS = 0.05


def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll `predicate` (a database row, a process) until it holds; fail with `what` after
    `timeout` seconds. For outcomes that send no event the test could wait on."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(POLL_SECONDS)  # polling the outcome, bounded by the deadline


def database_url() -> str:
    """The test database, as a URL the subprocesses can use."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env() -> dict:
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    def __init__(self, kind: str, log_dir: Path, env: dict | None = None, log_level="warning"):
        self.kind, self.log_level = kind, log_level
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql/"
        self.log_dir = log_dir
        self.env = {**subprocess_env(), **(env or {})}
        self.start()

    def start(self) -> None:
        command = {
            "uvicorn": [sys.executable, "-m", "uvicorn", "project.asgi:application",
                        "--host", "127.0.0.1", "--port", str(self.port), "--log-level",
                        self.log_level],
            "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                       str(self.port), "project.asgi:application"],
        }[self.kind]
        self.log = self.log_dir / f"{self.kind}-{self.port}.log"
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=self.env, stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.wait_until_ready()

    def restart(self) -> None:
        """Stop and start again on the same port: every websocket is dropped."""
        self.stop()
        self.start()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)  # polling the port until it answers, bounded by the deadline
        raise RuntimeError(f"{self.kind} did not answer in time:\n{self.log.read_text()}")

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="session")
def process_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, process_logs):
    """One real Celery worker process on the real broker, for the whole session: it logs
    JSON lines to `process.log` and serves its metrics at `process.metrics_url`."""
    log = process_logs / "celery-worker.log"
    metrics_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "threads",
         "--concurrency", "2", "--purge", "--without-gossip", "--without-mingle",
         "--loglevel", "INFO"],
        cwd=BASE_DIR, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env={**subprocess_env(), "LOG_FORMAT": "json", "METRICS_WORKER_PORT": str(metrics_port)},
    )
    process.log, process.metrics_url = log, f"http://127.0.0.1:{metrics_port}/metrics"
    from project.celery import app

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not app.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"Celery worker did not start:\n{log.read_text()}")
    yield process
    stop(process)


@pytest.fixture(scope="session")
def uvicorn_server(django_db_setup, process_logs):
    server = Server("uvicorn", process_logs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, process_logs):
    server = Server("daphne", process_logs)
    yield server
    server.stop()


def pytest_sessionfinish(session, exitstatus):
    from tests import settings as test_settings

    if getattr(test_settings, "EMBEDDED_REDIS", None) is not None:
        from tools.embedded_redis import stop_embedded_redis

        stop_embedded_redis(test_settings.EMBEDDED_REDIS)


@pytest.fixture(scope="session", autouse=True)
def close_stray_connections(django_db_setup, django_db_blocker):
    """Async tests leave connections open in asgiref's worker threads; PostgreSQL would
    refuse to drop the test database while they live."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
