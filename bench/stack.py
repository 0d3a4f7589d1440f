"""The real stack for the benchmark: PostgreSQL, Redis, uvicorn/daphne and a Celery worker.

Everything runs on loopback. The benchmark gets its own database (`filesvc_bench`), Redis
database 1 and channel prefix, so it never touches the data of `make run` or the tests.
"""

import os
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
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "bench-only-secret",
        "DEBUG": "0",
        "MEDIA_ROOT": str(work / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(work / "media" / ".incoming"),
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
    def __init__(self, command: list[str], log: Path):
        self.log = log
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=os.environ.copy(),
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
    def __init__(self, kind: str, work: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql/"
        command = {
            "uvicorn": [sys.executable, "-m", "uvicorn", "project.asgi:application", "--host",
                        "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                        "--no-access-log"],
            "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                       "project.asgi:application"],
        }[kind]
        super().__init__(command, work / f"{kind}.log")
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{kind} did not start: {self.log.read_text()[-2000:]}")


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
