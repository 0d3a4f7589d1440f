"""The real stack for the benchmark: PostgreSQL, Redis, uvicorn/daphne and a Celery worker,
and beside it the reference stack (bench/reference: gunicorn, one sync worker, and a Celery
worker with --pool=solo) and the bare ASGI app.

Everything runs on loopback. The benchmark gets its own database (`filesvc_bench`), Redis
database 1 and channel prefix, so it never touches the data of `make run` or the tests; the
reference gets `filesvc_bench_reference` and Redis database 2.
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 30
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/filesvc_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
REFERENCE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/filesvc_bench_reference"
REFERENCE_REDIS_URL = "redis://127.0.0.1:6379/2"
# uvicorn's websocket options in production (Dockerfile, project/localrun.py): the sans-I/O
# websockets protocol, no per-message compression (docs/live-connection-cost.md).
UVICORN_WS_OPTIONS = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false")
# The service's ASGI application (BENCH_ASGI_APP overrides it, should the entry point move).
SERVICE_APP = os.environ.get("BENCH_ASGI_APP") or "project.asgi:application"
BARE_APP = "bench.reference.bare_asgi:app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_postgres_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    connection = psycopg2.connect(
        dbname="postgres", user=config["USER"], password=config["PASSWORD"] or None,
        host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432,
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    connection.close()


def configure_environment() -> Path:
    """Set the environment the benchmark and its child processes share; returns the work dir."""
    work = Path(tempfile.mkdtemp(prefix="filesvc-bench-"))
    (work / "media").mkdir()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "bench-only-" + secrets.token_urlsafe(50),
        "DEBUG": "0",
        "MEDIA_ROOT": str(work / "media"),
        "CHANNEL_LAYER_PREFIX": f"filesvc-bench-{uuid.uuid4().hex[:6]}",
        "MAX_UPLOAD_SIZE": str(2 * 1024**3),
        # The benchmark is the one user hammering the service on purpose.
        "UPLOAD_RATE_LIMIT_PER_MINUTE": "0",
        "STORAGE_QUOTA": "0",
        "LOG_LEVEL": "WARNING",
    })
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_postgres_database(os.environ["DATABASE_URL"])
    return work


def setup_django() -> None:
    import django
    from django.core.management import call_command

    sys.path.insert(0, str(BASE_DIR))
    django.setup()
    call_command("migrate", "--no-input", verbosity=0)


class Process:
    def __init__(self, command: list[str], log: Path, env: dict | None = None):
        self.log = log
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **(env or {})},
                                        stdout=log.open("wb"), stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class WebServer(Process):
    """uvicorn or daphne serving `app` (the service by default), or gunicorn serving a WSGI
    app; ready once `ready_path` answers anything but a 5xx. uvicorn runs with production's
    websocket options; `options` are more (later ones win) and `module` what runs it
    (bench/idle_cost.py wraps it)."""

    def __init__(self, kind: str, work: Path, app: str = SERVICE_APP, *, env: dict | None = None,
                 name: str | None = None, ready_path: str = "/accounts/login/",
                 options: tuple[str, ...] = (), module: str = "uvicorn"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql/"
        command = {
            "uvicorn": [sys.executable, "-m", module, app, "--host", "127.0.0.1", "--port",
                        str(self.port), "--log-level", "warning", "--no-access-log",
                        *UVICORN_WS_OPTIONS, *options],
            "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                       app],
            "gunicorn": [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class",
                         "sync", "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
                         app],
        }[kind]
        name = name or kind
        super().__init__(command, work / f"{name}.log", env)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}{ready_path}", timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{name} did not start: {self.log.read_text()[-2000:]}")


class Worker(Process):
    def __init__(self, work: Path, concurrency: int = 1):
        super().__init__([sys.executable, "-m", "celery", "-A", "project", "worker", "--pool",
                          "prefork", "--concurrency", str(concurrency), "--purge",
                          "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                         work / "worker.log")
        from project.celery import app

        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {self.log.read_text()[-2000:]}")


class ReferenceStack:
    """bench/reference, the simple design: gunicorn with one sync worker, and one Celery
    worker with --pool=solo; its own database, MEDIA_ROOT and Redis database."""

    def __init__(self, work: Path, rows: int):
        self.database_url = os.environ.get("BENCH_REFERENCE_DATABASE_URL") or REFERENCE_DATABASE_URL
        self.redis_url = os.environ.get("BENCH_REFERENCE_REDIS_URL") or REFERENCE_REDIS_URL
        self.media = work / "reference-media"
        self.env = {"DJANGO_SETTINGS_MODULE": "bench.reference.settings",
                    "REFERENCE_DATABASE_URL": self.database_url,
                    "REFERENCE_REDIS_URL": self.redis_url,
                    "REFERENCE_MEDIA_ROOT": str(self.media)}
        ensure_postgres_database(self.database_url)
        self.prepare(rows)
        self.worker = Process([sys.executable, "-m", "celery", "-A", "bench.reference.celery",
                               "worker", "--pool", "solo", "--purge", "--without-gossip",
                               "--without-mingle", "--loglevel", "WARNING"],
                              work / "reference-worker.log", self.env)
        try:
            self.wait_for_worker()
            self.server = WebServer("gunicorn", work, "bench.reference.wsgi:application",
                                    env=self.env, name="reference-gunicorn", ready_path="/files/0")
        except BaseException:
            self.worker.stop()
            raise

    def prepare(self, rows: int) -> None:
        """Migrate, and leave exactly `rows` processed rows (the list view returns them all)."""
        subprocess.run([sys.executable, "-m", "bench.reference.prepare", "--rows", str(rows)],
                       cwd=BASE_DIR, env={**os.environ, **self.env}, check=True)

    def wait_for_worker(self) -> None:
        from celery import Celery

        # Not the current app: the bench's own `.delay()` calls must keep the service's.
        app = Celery("reference-ping", broker=self.redis_url, set_as_current=False)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not app.control.ping(timeout=0.5):
            if self.worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"reference worker did not start: {self.worker.log.read_text()[-2000:]}")

    def pending(self) -> int:
        """Rows not processed yet (read straight from the reference's database)."""
        import dj_database_url
        import psycopg2

        config = dj_database_url.parse(self.database_url)
        connection = psycopg2.connect(dbname=config["NAME"], user=config["USER"],
                                      password=config["PASSWORD"] or None,
                                      host=config["HOST"] or "127.0.0.1",
                                      port=config["PORT"] or 5432, connect_timeout=5)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM reference_storedfile WHERE NOT processed")
                return cursor.fetchone()[0]
        finally:
            connection.close()

    def wait_until_processed(self, timeout: float, stalled_after: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last, moved = None, time.monotonic()
        while pending := self.pending():
            now = time.monotonic()
            if pending != last:
                last, moved = pending, now
            if now > deadline or now - moved > stalled_after:
                raise TimeoutError(f"reference: {pending} files still unprocessed, the worker "
                                   f"is stuck (see {self.worker.log})")
            time.sleep(0.2)

    def stop(self) -> None:
        self.server.stop()
        self.worker.stop()
