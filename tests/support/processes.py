"""The real processes the end-to-end tests talk to (uvicorn and daphne servers, Celery workers
and beat), on loopback, sharing the test database, Redis and media directory through their
environment."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def start_celery(env: dict, log: Path, *arguments: str) -> subprocess.Popen:
    """`celery -A project <arguments>` in a session of its own, so its whole process group
    (a prefork worker's pool children too) can be killed, and nothing else."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", *arguments, "--loglevel", "INFO"],
        cwd=BASE_DIR, env={**subprocess_env(), **env}, stdout=log.open("ab"),
        stderr=subprocess.STDOUT, start_new_session=True,
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
