"""PostgreSQL stopped and started under a running server and worker: requests in between get
SERVICE_UNAVAILABLE (503 or the GraphQL code), and both recover by themselves afterwards.

Needs the machine's own PostgreSQL cluster (pg_ctlcluster, as CI has); skipped on SQLite."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection, connections

from files_app.models import File, FileStatus

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"
FILES = {"query": "{ files { totalCount } }"}


def cluster() -> list[str] | None:
    if connection.vendor != "postgresql" or not shutil.which("pg_ctlcluster"):
        return None
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    return [versions[-1], "main"] if versions else None


def pg(action: str, version_and_name: list[str]) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *version_and_name, action],
                   check=True, capture_output=True, timeout=60)


def wait_for_postgres(timeout=30) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.1)  # polling the server's readiness, bounded by the deadline


def test_service_recovers_from_a_postgres_restart(uvicorn_server, celery_worker, token):
    target = cluster()
    if target is None:
        pytest.skip("needs this machine's PostgreSQL cluster (pg_ctlcluster); SQLite here")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=uvicorn_server.url, headers=headers, timeout=30) as client:
        assert client.post("/graphql/", json=FILES).status_code == 200
        pg("stop", target)
        try:
            during = client.post("/graphql/", json=FILES)
            assert during.status_code == 503, during.text
            assert during.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        finally:
            pg("start", target)
            wait_for_postgres()
            connections.close_all()  # this test process's own connections died with the server
        after = client.post("/graphql/", json=FILES)
        assert after.status_code == 200 and "errors" not in after.json(), after.text
        uploaded = client.post("/graphql/", data={
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("after-restart.txt", b"the worker recovered too")})
        assert uploaded.status_code == 200 and "errors" not in uploaded.json(), uploaded.text
    deadline = time.monotonic() + 60
    while not File.objects.filter(name="after-restart.txt", status=FileStatus.DONE).exists():
        assert time.monotonic() < deadline, "the worker did not recover"
        time.sleep(0.05)  # polling the outcome, bounded by the deadline
