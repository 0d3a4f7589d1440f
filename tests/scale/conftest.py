"""Real processes for the scale tests: moto's standalone S3 server, and web processes and
Celery workers configured for S3 on the suite's database and Redis.

moto is a real S3-protocol HTTP server on 127.0.0.1 (no in-process mocking of boto3). Where
it is not installed the S3 tests skip, unless REQUIRE_S3=1 (`.ci/run`), where they fail.
"""

import tempfile

import pytest

from tests.support.processes import Server, free_port, separate_broker_url
from tests.support.s3 import (
    BUCKET,
    CREDENTIALS,
    control_app,
    require_moto,
    s3_client,
    start_s3_worker,
)
from tools.processes import HttpServer, moto_command, stop_all

S3_BROKER_OFFSET = 8


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """moto's S3 server as a subprocess; yields its URL."""
    require_moto()
    port = free_port()
    moto = HttpServer(
        moto_command(host="127.0.0.1", port=port),
        tmp_path_factory.mktemp("moto") / "moto.log",
        port=port,
        ready_path="/moto-api/",
    )
    yield moto.url
    moto.stop()


@pytest.fixture(scope="session")
def s3(moto_server):
    client = s3_client(moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def s3_env(s3, moto_server):
    """What the web processes and workers run with: S3 on moto, an empty MEDIA_ROOT of
    their own (to prove nothing lands there), their own broker."""
    return {
        **CREDENTIALS,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": moto_server,
        "MEDIA_ROOT": tempfile.mkdtemp(prefix="filesvc-s3-media-"),
        "CELERY_BROKER_URL": separate_broker_url(S3_BROKER_OFFSET),
        # Every delivery runs its file (none deferred), so a worker's task count is the
        # number of files it processed.
        "FILE_MAX_IN_FLIGHT_PER_USER": "0",
    }


@pytest.fixture(scope="session")
def s3_workers(django_db_setup, process_logs, s3_env):
    workers = [start_s3_worker(f"s3-worker-{n}", process_logs, s3_env) for n in (1, 2)]
    control = control_app(s3_env)
    try:
        for worker in workers:
            worker.wait_ready(control)
        yield workers
    finally:
        stop_all(workers)
        control.close()


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
