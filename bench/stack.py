"""The real stack for the benchmark: PostgreSQL, Redis, uvicorn/daphne and a Celery worker,
and beside it the reference stack (bench/reference: gunicorn, one sync worker, and a Celery
worker with --pool=solo) and the bare ASGI app.

Everything runs on loopback. The benchmark gets its own database (`filesvc_bench`), Redis
database 1 and channel prefix, so it never touches the data of `make run` or the tests; the
reference gets `filesvc_bench_reference` and Redis database 2.
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tools import processes
from tools.processes import BASE_DIR, CeleryProcess

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/filesvc_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
REFERENCE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/filesvc_bench_reference"
REFERENCE_REDIS_URL = "redis://127.0.0.1:6379/2"
# The service's ASGI application (BENCH_ASGI_APP overrides it, should the entry point move).
SERVICE_APP = os.environ.get("BENCH_ASGI_APP") or processes.SERVICE_APP
BARE_APP = "bench.reference.bare_asgi:app"


def ensure_postgres_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    connection = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
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
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "SECRET_KEY": "bench-only-" + secrets.token_urlsafe(50),
            "DEBUG": "0",
            "MEDIA_ROOT": str(work / "media"),
            "CHANNEL_LAYER_PREFIX": f"filesvc-bench-{uuid.uuid4().hex[:6]}",
            "MAX_UPLOAD_SIZE": str(2 * 1024**3),
            # The benchmark is the one user hammering the service on purpose.
            "UPLOAD_RATE_LIMIT_PER_MINUTE": "0",
            "STORAGE_QUOTA": "0",
            "UPLOAD_MAX_CONCURRENT_PER_USER": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_postgres_database(os.environ["DATABASE_URL"])
    return work


def setup_django() -> None:
    import django
    from django.core.management import call_command

    sys.path.insert(0, str(BASE_DIR))
    django.setup()
    call_command("migrate", "--no-input", verbosity=0)


class WebServer(processes.WebServer):
    """tools/processes.py's web server with the bench's defaults: its log in the work dir,
    `env` on top of the bench's environment, no access log (`options` come after, and win)."""

    def __init__(
        self,
        kind: str,
        work: Path,
        app: str = SERVICE_APP,
        *,
        env: dict | None = None,
        options: tuple[str, ...] = (),
        **kwargs,
    ):
        quiet = ("--no-access-log",) if kind == "uvicorn" else ()
        super().__init__(
            kind,
            work,
            app=app,
            env={**os.environ, **(env or {})},
            options=(*quiet, *options),
            **kwargs,
        )


class Worker(CeleryProcess):
    """The service's worker: the production pool (prefork)."""

    def __init__(self, work: Path, concurrency: int = 1):
        super().__init__(
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--purge",
            "--without-gossip",
            "--without-mingle",
            log=work / "worker.log",
            loglevel="WARNING",
        )
        from project.celery import app

        try:
            self.wait_ready(app)
        except BaseException:
            self.stop()
            raise


class ReferenceStack:
    """bench/reference, the simple design: gunicorn with one sync worker, and one Celery
    worker with --pool=solo; its own database, MEDIA_ROOT and Redis database. Beside it, on
    the same database, the FastAPI app that does its background work in-process (one
    uvicorn process)."""

    def __init__(self, work: Path, rows: int):
        self.database_url = os.environ.get("BENCH_REFERENCE_DATABASE_URL") or REFERENCE_DATABASE_URL
        self.redis_url = os.environ.get("BENCH_REFERENCE_REDIS_URL") or REFERENCE_REDIS_URL
        self.media = work / "reference-media"
        self.env = {
            "DJANGO_SETTINGS_MODULE": "bench.reference.settings",
            "REFERENCE_DATABASE_URL": self.database_url,
            "REFERENCE_REDIS_URL": self.redis_url,
            "REFERENCE_MEDIA_ROOT": str(self.media),
        }
        ensure_postgres_database(self.database_url)
        self.prepare(rows)
        self.worker = CeleryProcess(
            "worker",
            "--pool",
            "solo",
            "--purge",
            "--without-gossip",
            "--without-mingle",
            app="bench.reference.celery",
            loglevel="WARNING",
            log=work / "reference-worker.log",
            env={**os.environ, **self.env},
        )
        try:
            # Not through the current app: the bench's own `.delay()` calls keep the service's.
            self.worker.wait_ready(broker=self.redis_url)
            self.server = WebServer(
                "gunicorn",
                work,
                "bench.reference.wsgi:application",
                env=self.env,
                name="reference-gunicorn",
                ready_path="/files/0",
            )
            # The second reference: its background work in-process after answering, on
            # the same table (bench/reference/background.py).
            self.background = WebServer(
                "uvicorn",
                work,
                "bench.reference.background:app",
                env=self.env,
                name="reference-background",
                ready_path="/files/0",
            )
        except BaseException:
            self.stop()
            raise

    def prepare(self, rows: int) -> None:
        """Migrate, and leave exactly `rows` processed rows (the list view returns them all)."""
        subprocess.run(
            [sys.executable, "-m", "bench.reference.prepare", "--rows", str(rows)],
            cwd=BASE_DIR,
            env={**os.environ, **self.env},
            check=True,
        )

    def pending(self) -> int:
        """Rows not processed yet (read straight from the reference's database)."""
        import dj_database_url
        import psycopg2

        config = dj_database_url.parse(self.database_url)
        connection = psycopg2.connect(
            dbname=config["NAME"],
            user=config["USER"],
            password=config["PASSWORD"] or None,
            host=config["HOST"] or "127.0.0.1",
            port=config["PORT"] or 5432,
            connect_timeout=5,
        )
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
                raise TimeoutError(
                    f"reference: {pending} files still unprocessed, the worker "
                    f"is stuck (see {self.worker.log})"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        for process in (getattr(self, "background", None), getattr(self, "server", None)):
            if process is not None:
                process.stop()
        self.worker.stop()
