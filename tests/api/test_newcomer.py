"""What a newcomer meets in the first minutes: a subscription sent over HTTP, an
operation sent with GET, `curl -I` on a download, the favicon, uvicorn's lifespan."""

import io
import logging
import os
import subprocess
import sys
import urllib.parse

import pytest
from asgiref.sync import async_to_sync

from files_app.models import FileStatus
from tests.support.files import make_file
from tests.support.graphql import asgi_request
from tests.support.processes import BASE_DIR, subprocess_env

pytestmark = pytest.mark.django_db

SUBSCRIPTION = "subscription { fileUpdates { id } }"
COMMAND_TIMEOUT_SECONDS = 60


def graphql_get(query: str, headers: dict):
    return asgi_request(
        "GET",
        "/graphql/?" + urllib.parse.urlencode({"query": query}),
        headers={"Accept": "application/json", **headers},
    )


def assert_points_to_the_websocket(response):
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "SUBSCRIPTION_OVER_HTTP"
    assert "ws://testserver/graphql/" in error["message"]
    assert "graphql-transport-ws" in error["message"]


def test_a_subscription_posted_over_http_says_where_subscriptions_run(gql, caplog):
    with caplog.at_level(logging.ERROR):
        assert_points_to_the_websocket(gql.post(json={"query": SUBSCRIPTION}))
    assert not caplog.records, "nothing for the log: the client's mistake, not ours"


def test_a_subscription_sent_with_get_says_where_subscriptions_run(gql, caplog):
    """A GET runs queries only: a subscription there is pointed at the websocket, never run
    (an INTERNAL_SERVER_ERROR with a traceback in the log)."""
    with caplog.at_level(logging.ERROR):
        assert_points_to_the_websocket(graphql_get(SUBSCRIPTION, gql.headers))
        named = asgi_request(
            "GET",
            "/graphql/?"
            + urllib.parse.urlencode(
                {
                    "query": "query A { files { totalCount } } "
                    "subscription B { fileUpdates { id } }",
                    "operationName": "B",
                }
            ),
            headers=gql.headers,
        )
        assert_points_to_the_websocket(named)
    assert not caplog.records


def test_a_query_sent_with_get_runs_and_a_mutation_is_refused(gql):
    """GET is GraphQL over HTTP's (tests/api/test_graphql_over_http.py); GraphiQL stays on the
    GET without a `query` parameter."""
    assert graphql_get("{ files { totalCount } }", gql.headers).json() == {
        "data": {"files": {"totalCount": 0}}
    }
    refused = graphql_get('mutation { deleteFile(id: "RmlsZToxMjM=") }', gql.headers)
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"


def test_graphiql_is_still_served(client):
    assert client.get("/graphql/", HTTP_ACCEPT="text/html").status_code == 200


@pytest.fixture
def stored_file(user):
    return make_file(
        user,
        b"twenty-two bytes here\n",
        name="notes.txt",
        status=FileStatus.DONE,
        content_type="text/plain",
    )


@pytest.mark.django_db(transaction=True)  # the async views read on their own thread
async def test_head_on_a_download_answers_like_get_without_the_bytes(
    async_client, stored_file, token
):
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/files/{stored_file.pk}/download"
    get, head = (
        await async_client.get(url, headers=auth),
        await async_client.head(url, headers=auth),
    )
    assert get.status_code == head.status_code == 200
    assert b"".join([chunk async for chunk in get.streaming_content]) == (
        b"twenty-two bytes here\n"
    )
    assert head.content == b""
    for header in (
        "Content-Type",
        "Content-Length",
        "Content-Disposition",
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Cache-Control",
    ):
        assert head[header] == get[header], header
    assert (await async_client.head(url)).status_code == 401  # still owner-checked
    assert (await async_client.post(url, headers=auth)).status_code == 405


def test_the_favicon_is_served_and_linked(client, user):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in icon.content
    assert b'rel="icon" href="/favicon.ico"' in client.get("/accounts/login/").content


def test_the_app_answers_the_lifespan_protocol():
    """Without it uvicorn logs "ASGI 'lifespan' protocol appears unsupported" at start."""
    from project.asgi import application

    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message["type"])

    async_to_sync(application)({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_create_user_makes_an_ordinary_user_once(monkeypatch):
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("create_user", "sam", stdout=out)
    password = out.getvalue().rsplit("password: ", 1)[1].strip()
    sam = get_user_model().objects.get(username="sam")
    assert sam.check_password(password) and not sam.is_staff and not sam.is_superuser
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "sam")
    monkeypatch.setenv("NEW_USER_PASSWORD", "chosen-password-1234")
    call_command("create_user", "kim", "--staff", stdout=io.StringIO())
    kim = get_user_model().objects.get(username="kim")
    assert kim.check_password("chosen-password-1234") and kim.is_staff


@pytest.mark.django_db(transaction=True)  # the command runs in a process of its own
@pytest.mark.parametrize("password", ["a", "password123", "sam-the-newcomer"])
def test_create_user_refuses_a_password_djangos_validators_refuse(password):
    """`NEW_USER_PASSWORD=a` was accepted: the command skipped AUTH_PASSWORD_VALIDATORS."""
    from django.contrib.auth import get_user_model

    done = subprocess.run(
        [sys.executable, "manage.py", "create_user", "sam-the-newcomer"],
        cwd=BASE_DIR,
        env={**subprocess_env(), "NEW_USER_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert done.returncode != 0, done.stdout
    assert "This password is refused" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not get_user_model().objects.filter(username="sam-the-newcomer").exists()


@pytest.mark.parametrize("target", ["user", "token"])
def test_make_user_and_token_without_user_print_a_usage_line(target):
    """USER is also the shell's login name, which make would have taken: only USER= on
    make's command line names the account. Nothing is installed or run before the usage."""
    done = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=BASE_DIR,
        env={**os.environ, "USER": "root", "LOGNAME": "root"},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"usage: make {target} USER=<name>" in done.stderr
    assert "manage.py" not in done.stdout and "CommandError" not in done.stderr
