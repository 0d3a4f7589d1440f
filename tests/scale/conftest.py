"""Real processes for the scale tests: moto's standalone S3 server, and web processes and
Celery workers configured for S3 on the suite's database and Redis.

moto is a real S3-protocol HTTP server on 127.0.0.1 (no in-process mocking of boto3). Where
it is not installed the S3 tests skip, unless REQUIRE_S3=1 (`.ci/run`), where they fail.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from celery import Celery

from tests.conftest import BASE_DIR, READY_TIMEOUT_SECONDS, Server, stop, subprocess_env
from tests.settings import free_port

BUCKET = "filesvc-scale"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "scale-test-key", "AWS_SECRET_ACCESS_KEY": "scale-secret",
               "AWS_S3_REGION_NAME": "us-east-1"}


def require_moto() -> None:
    if importlib.util.find_spec("moto") is None:
        reason = "moto is not installed (pip install -r requirements-dev.txt)"
        if os.environ.get("REQUIRE_S3") == "1":
            pytest.fail(f"the S3 tests are mandatory here: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """moto's S3 server as a subprocess; yields its URL."""
    require_moto()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        assert process.poll() is None, f"moto exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"moto did not answer:\n{log.read_text()}"
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)  # polling the port until it answers, bounded by the deadline
    yield url
    stop(process)


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint,
                        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        region_name=CREDENTIALS["AWS_S3_REGION_NAME"])


@pytest.fixture(scope="session")
def s3(moto_server):
    client = s3_client(moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


def separate_broker_url() -> str:
    """The suite's Redis, another database number: the session's local-disk worker
    (tests/conftest.py) must never take a task of these S3 processes, nor they its."""
    parts = urlsplit(os.environ["REDIS_URL"])
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + 8) % 16}"))


@pytest.fixture(scope="session")
def s3_env(s3, moto_server):
    """What the web processes and workers run with: S3 on moto, an empty MEDIA_ROOT of
    their own (to prove nothing lands there), their own broker."""
    return {**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": moto_server,
            "MEDIA_ROOT": tempfile.mkdtemp(prefix="filesvc-s3-media-"),
            "CELERY_BROKER_URL": separate_broker_url(),
            # Every delivery runs its file (none deferred), so a worker's task count is the
            # number of files it processed.
            "FILE_MAX_IN_FLIGHT_PER_USER": "0"}


class Worker:
    """One Celery worker process (solo pool: one file at a time) named `name`."""

    def __init__(self, name: str, log_dir: Path, env: dict):
        self.name = f"{name}@scale"
        self.log = log_dir / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
             "--hostname", self.name, "--without-gossip", "--without-mingle", "--loglevel",
             "INFO"],
            cwd=BASE_DIR, env={**subprocess_env(), **env}, stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop(self.process)


def control_app(env: dict) -> Celery:
    # Not the current app: `shared_task`s (process_file) would send to its broker after.
    return Celery("scale-control", broker=env["CELERY_BROKER_URL"], set_as_current=False)


@pytest.fixture(scope="session")
def s3_workers(django_db_setup, process_logs, s3_env):
    workers = [Worker(f"s3-worker-{n}", process_logs, s3_env) for n in (1, 2)]
    app = control_app(s3_env)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while len(app.control.ping(timeout=0.5)) < len(workers):
        if time.monotonic() > deadline or any(w.process.poll() is not None for w in workers):
            for worker in workers:
                worker.stop()
            raise RuntimeError("S3 workers did not start:\n" + "\n".join(
                w.log.read_text() for w in workers))
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def s3_webs(django_db_setup, process_logs, s3_env):
    """Two uvicorn processes on S3, as behind a load balancer: one pair for the session,
    whichever modules use them (each start costs seconds)."""
    webs = [Server("uvicorn", process_logs, env=s3_env) for _ in range(2)]
    yield webs
    for web in webs:
        web.stop()


def processed_per_worker(env: dict, workers) -> dict[str, int]:
    """How many process_file tasks each worker ran, as Celery's own stats count them."""
    stats = control_app(env).control.inspect(
        destination=[w.name for w in workers], timeout=5).stats() or {}
    return {name: stat.get("total", {}).get("files_app.process_file", 0)
            for name, stat in stats.items()}


def local_files(media_root: str) -> list[Path]:
    return [path for path in Path(media_root).rglob("*") if path.is_file()]
