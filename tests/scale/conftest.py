"""Real processes for the scale tests: moto's standalone S3 server, and web processes and
Celery workers configured for S3 on the suite's database and Redis.

moto is a real S3-protocol HTTP server on 127.0.0.1 (no in-process mocking of boto3). Where
it is not installed the S3 tests skip, unless REQUIRE_S3=1 (`.ci/run`), where they fail.
"""

import subprocess
import sys
import tempfile
import time

import httpx
import pytest

from tests.support.processes import (
    READY_TIMEOUT_SECONDS,
    Server,
    free_port,
    separate_broker_url,
    stop,
)
from tests.support.s3 import (
    BUCKET,
    CREDENTIALS,
    Worker,
    control_app,
    require_moto,
    s3_client,
)

S3_BROKER_OFFSET = 8


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


@pytest.fixture(scope="session")
def s3(moto_server):
    client = s3_client(moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def s3_env(s3, moto_server):
    """What the web processes and workers run with: S3 on moto, an empty MEDIA_ROOT of
    their own (to prove nothing lands there), their own broker."""
    return {**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": moto_server,
            "MEDIA_ROOT": tempfile.mkdtemp(prefix="filesvc-s3-media-"),
            "CELERY_BROKER_URL": separate_broker_url(S3_BROKER_OFFSET),
            # Every delivery runs its file (none deferred), so a worker's task count is the
            # number of files it processed.
            "FILE_MAX_IN_FLIGHT_PER_USER": "0"}


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


@pytest.fixture
def s3_settings(settings, s3, moto_server):
    """This process on S3 (moto), as the web processes are."""
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = moto_server
    settings.AWS_S3_REGION_NAME = CREDENTIALS["AWS_S3_REGION_NAME"]
    settings.AWS_ACCESS_KEY_ID = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    }
    return settings
