"""The real processes the end-to-end tests talk to (uvicorn and daphne servers, Celery workers
and beat), on loopback, sharing the test database, Redis and media directory through their
environment. They are started through tools/processes.py, the harness `make run` and the
bench use too, so the tests run the command lines that are deployed."""

import os
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from tools.processes import (  # noqa: F401 (BASE_DIR, free_port: for the tests, from here)
    BASE_DIR,
    READY_TIMEOUT_SECONDS,
    CeleryProcess,
    WebServer,
    free_port,
)

POLL_SECONDS = 0.05


def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll `predicate` (a database row, a process) until it holds; fail with `what` after
    `timeout` seconds. For outcomes that send no event the test could wait on."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(POLL_SECONDS)  # polling the outcome, bounded by the deadline


def separate_broker_url(offset: int) -> str:
    """The suite's Redis, database number `offset` higher (modulo 16): a broker for workers
    the session's worker must never take a task from, nor they its. Each user of it takes
    its own offset (test_worker_killed 14, test_worker_limits and the hostile files 13, the
    S3 workers 8)."""
    parts = urlsplit(os.environ["REDIS_URL"])
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + offset) % 16}"))


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


class Server(WebServer):
    """uvicorn or daphne on the test database, Redis and media directory (`env` on top),
    ready once the login page answers 200; `restart()` keeps the port."""

    def __init__(
        self,
        kind: str,
        log_dir: Path,
        env: dict | None = None,
        log_level: str = "warning",
        options: tuple[str, ...] = (),
    ):
        super().__init__(
            kind,
            log_dir,
            env={**subprocess_env(), **(env or {})},
            log_level=log_level,
            ready_status=200,
            options=options,
        )


def start_celery(
    env: dict, log: Path, role: str, *options: str, hostname: str | None = None
) -> CeleryProcess:
    """`celery -A project worker|beat <options>` on the test database (`env` on top), in a
    session of its own, so its whole process group (a prefork worker's pool children too) can
    be killed, and nothing else."""
    return CeleryProcess(
        role,
        *options,
        log=log,
        env={**subprocess_env(), **env},
        hostname=hostname,
        new_session=True,
    )


def process_group(group_id: int) -> list[int]:
    """The live processes of a process group (Linux /proc; zombies left out)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group_id and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
