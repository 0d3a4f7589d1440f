"""PostgreSQL stopped and started under a running server and worker: requests in between get
SERVICE_UNAVAILABLE (503 or the GraphQL code), from API clients and browser sessions alike,
and both recover by themselves afterwards.

Needs the machine's own PostgreSQL cluster (pg_ctlcluster, as CI has); skipped on SQLite."""

import asyncio
import json
import os
import shutil
import subprocess
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from files_app.models import File, FileStatus
from schema.graphql.ids import decode_file_id
from tests.support.operations import UPLOAD_ID
from tests.support.processes import wait_until
from tests.support.users import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"query": "{ files { totalCount } }"}


def cluster() -> list[str] | None:
    if connection.vendor != "postgresql" or not shutil.which("pg_ctlcluster"):
        return None
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    return [versions[-1], "main"] if versions else None


def pg(action: str, version_and_name: list[str]) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *version_and_name, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def postgres_is_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0


def browser_session(server, user) -> httpx.Client:
    """Logged in through the login form, as the page's users are."""
    browser = httpx.Client(base_url=server.url, timeout=30)
    form = browser.get("/accounts/login/")
    answer = browser.post(
        "/accounts/login/",
        headers={"Referer": f"{server.url}/"},
        data={
            "username": user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": form.cookies["csrftoken"],
        },
    )
    assert answer.status_code == 302, answer.text
    browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]
    return browser


def assert_unavailable(response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Retry-After"]
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def test_service_recovers_from_a_postgres_restart(uvicorn_server, celery_worker, user, token):
    target = cluster()
    if target is None:
        pytest.skip("needs this machine's PostgreSQL cluster (pg_ctlcluster); SQLite here")
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=uvicorn_server.url, headers=headers, timeout=30) as client,
        closing(browser_session(uvicorn_server, user)) as browser,
    ):
        kept = upload(client, "kept.txt", b"uploaded before the restart")
        download = f"/files/{decode_file_id(kept['id'])}/download"
        assert browser.get(download).content == b"uploaded before the restart"
        pg("stop", target)
        try:
            assert_unavailable(client.post("/graphql/", json=FILES))  # the token check
            assert_unavailable(client.get(download))
            assert_unavailable(browser.get(download))  # the session lookup
            assert_unavailable(browser.get("/"))  # the page
            assert_unavailable(browser.post("/graphql/", json=FILES))  # the page's queries
        finally:
            pg("start", target)
            wait_until(postgres_is_ready, 30, "PostgreSQL did not come back")
            connections.close_all()  # this test process's own connections died with the server
            # So did those of the thread async tests' ORM calls run in (asgiref's one
            # thread-sensitive executor): a later test would be handed a dead one.
            asyncio.run(sync_to_async(connections.close_all)())
        after = client.post("/graphql/", json=FILES)
        assert after.status_code == 200 and "errors" not in after.json(), after.text
        assert browser.get(download).content == b"uploaded before the restart"
        upload(client, "after-restart.txt", b"the worker recovered too")
    processed = File.objects.filter(name="after-restart.txt", status=FileStatus.DONE)
    wait_until(processed.exists, 60, "the worker did not recover")


def upload(client, name, content) -> dict:
    answer = client.post(
        "/graphql/",
        files={"0": (name, content)},
        data={
            "operations": json.dumps({"query": UPLOAD_ID, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
    )
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    return answer.json()["data"]["uploadFile"]
