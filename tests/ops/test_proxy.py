"""The shipped proxy (deploy/nginx.conf.template, the compose `proxy`) run with Debian's nginx
in front of a real uvicorn, as docker compose runs them, on a port other than 80:

- slow clients: headers that never finish are closed after `client_header_timeout`, a body
  that falls silent after `client_body_timeout` (the app's own, longer timeout never comes
  into it), and one address holds at most `limit_conn` requests at a time;
- the client's address is the one the proxy saw: a spoofed X-Forwarded-For chain changes
  nothing, so the login throttle locks the real address out; uvicorn itself believes the
  header only from the proxy's network (compose's FORWARDED_ALLOW_IPS);
- the Host header keeps its port: file `url`s, the login's and the websocket's Origin checks;
- /readyz and /metrics are not served through the proxy (/healthz is)."""

import asyncio
import json
import re
import select
import time

import httpx
import pytest
import yaml
from django.conf import settings

from files_app.sizes import MIB
from schema.http.ingress import incoming_dir
from tests.support.graphql import multipart_body
from tests.support.processes import BASE_DIR, Server, wait_until
from tests.support.proxy import TEMPLATE, Proxy, require_nginx
from tests.support.raw_http import Connection
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id url } }"
SUBSCRIBE = "subscription { fileUpdates { id } }"
# The template's own figures, read rather than repeated.
HEADER_TIMEOUT = int(re.search(r"client_header_timeout (\d+)s;", TEMPLATE.read_text())[1])
BODY_TIMEOUT = int(re.search(r"client_body_timeout (\d+)s;", TEMPLATE.read_text())[1])
CONNECTIONS = int(re.search(r"limit_conn per_address (\d+);", TEMPLATE.read_text())[1])
MARGIN = 5  # seconds: the target is "dropped within the timeout plus 5 s"
SLOW_HEADERS = 20


@pytest.fixture(scope="module")
def upstream(django_db_setup, process_logs):
    """The app's own body timeout well above the proxy's: what drops a body here is nginx."""
    server = Server(
        "uvicorn", process_logs, env={"REQUEST_BODY_IDLE_TIMEOUT": str(BODY_TIMEOUT * 3)}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(upstream, tmp_path_factory):
    require_nginx()
    started = Proxy(tmp_path_factory.mktemp("nginx"), upstream.port)
    yield started
    started.stop()


def parts() -> list:
    return list(incoming_dir().glob("*.part")) if incoming_dir().exists() else []


def upload(url: str, token: str, content: bytes, **client) -> httpx.Response:
    body, content_type = multipart_body(
        [
            ("operations", json.dumps({"query": UPLOAD, "variables": {"file": None}})),
            ("map", json.dumps({"0": ["variables.file"]})),
            ("0", content, "proxied.txt"),
        ]
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    with httpx.Client(timeout=10, **client) as http:
        return http.post(f"{url}/graphql/", content=body, headers=headers)


# --- slow clients ---------------------------------------------------------------------------


def test_slow_headers_and_a_silent_body_are_dropped_by_the_proxy(proxy, token):
    """SLOW_HEADERS clients send a header byte a second and never finish; one upload sends
    2 MiB of a 4 MiB file and falls silent. Meanwhile the proxy serves everyone else."""
    slow = [Connection(proxy.port) for _ in range(SLOW_HEADERS)]
    for connection in slow:
        connection.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    body, content_type = multipart_body(
        [
            ("operations", json.dumps({"query": UPLOAD, "variables": {"file": None}})),
            ("map", json.dumps({"0": ["variables.file"]})),
            ("0", b"\0" * (4 * MIB), "stalled.bin"),
        ]
    )
    stalled = Connection(proxy.port)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
    }
    stalled.request("POST", "/graphql/", headers, body[: 2 * MIB])
    started = time.monotonic()
    wait_until(lambda: parts(), 10, "the upload's part was never written")
    open_headers = {connection.sock: connection for connection in slow}
    while open_headers:
        assert time.monotonic() - started < HEADER_TIMEOUT + MARGIN, (
            f"{len(open_headers)} of {SLOW_HEADERS} unfinished headers still open"
        )
        assert httpx.get(f"{proxy.url}/healthz", timeout=5).status_code == 200
        # A second's wait for any of them to be closed: the trickle's own pace.
        closing, _, _ = select.select(list(open_headers), [], [], 1)
        for sock in closing:
            assert open_headers.pop(sock).closed_within(1)
        for connection in open_headers.values():
            connection.send(b"x")
    assert time.monotonic() - started > HEADER_TIMEOUT - 1, "closed before the timeout"
    assert stalled.closed_within(BODY_TIMEOUT + MARGIN - (time.monotonic() - started)), (
        "a silent body was not dropped within client_body_timeout"
    )
    wait_until(lambda: not parts(), 10, "the dropped upload's part was left behind")


def test_one_address_holds_a_bounded_number_of_requests(proxy, token):
    """CONNECTIONS requests in progress from one address (bodies not yet sent): the next is
    refused with 429 at once, while another address is served."""
    held = []
    try:
        for _ in range(CONNECTIONS):
            connection = Connection(proxy.port)
            connection.request(
                "POST",
                "/graphql/",
                {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Content-Length": "1000",
                },
                b"{",
            )
            held.append(connection)

        def refused() -> bool:
            response = httpx.get(f"{proxy.url}/healthz", timeout=5)
            return response.status_code == 429 and "RATE_LIMITED" in response.text

        wait_until(refused, 10, f"a request past {CONNECTIONS} in progress was not refused")
        elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=elsewhere, timeout=5) as other:
            assert other.get(f"{proxy.url}/healthz").status_code == 200
        assert not any(connection.readable(0) for connection in held), "a held one was answered"
    finally:
        for connection in held:
            connection.close()


# --- the client's address ---------------------------------------------------------------


def failed_login(url: str, *, source: str, spoofed: str | None, username: str) -> int:
    """A wrong password, from the loopback address `source`, as a browser posts it (the
    csrftoken cookie, its form field and an Origin naming the page's host and port)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=url, transport=transport, timeout=10) as browser:
        browser.get("/accounts/login/").raise_for_status()
        form = {
            "username": username,
            "password": "wrong password",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/",
        }
        headers = {"Origin": url, **({"X-Forwarded-For": spoofed} if spoofed else {})}
        return browser.post("/accounts/login/", data=form, headers=headers).status_code


def test_a_spoofed_forwarded_chain_does_not_dodge_the_login_throttle(proxy):
    """Each try claims another address, a chain the client began: the proxy replaces it with
    the address it saw, so the throttle locks that one out at the limit. A client with another
    address behind the same proxy is its own (uvicorn believes the proxy's header)."""
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [
        failed_login(
            proxy.url, source="127.0.0.1", spoofed=f"198.51.100.{i}", username=f"guess-{i}"
        )
        for i in range(limit + 1)
    ]
    assert statuses == [200] * (limit - 1) + [429, 429], statuses
    assert failed_login(proxy.url, source="127.0.0.2", spoofed=None, username="guess-x") == 200


@pytest.fixture(scope="module")
def compose_web(django_db_setup, process_logs):
    """uvicorn believing X-Forwarded-For from the networks compose's web service names."""
    web = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["web"]
    trusted = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", web["environment"]["FORWARDED_ALLOW_IPS"])
    server = Server("uvicorn", process_logs, options=("--forwarded-allow-ips", trusted))
    yield server
    server.stop()


@pytest.mark.parametrize("deployed", ["upstream", "compose_web"])
def test_uvicorn_believes_x_forwarded_for_only_from_the_proxy(deployed, request):
    """A client reaching uvicorn directly, from outside the proxy's addresses (the harness's
    and the image's loopback, compose's `edge` network), sends the header itself: ignored, its
    own address is counted."""
    server = request.getfixturevalue(deployed)
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [
        failed_login(
            server.url, source="127.0.0.2", spoofed=f"198.51.100.{i}", username=f"guess-{i}"
        )
        for i in range(limit)
    ]
    assert statuses == [200] * (limit - 1) + [429], statuses


# --- the Host header ----------------------------------------------------------------------


def test_the_host_keeps_its_port_for_urls_and_origin_checks(proxy, token):
    response = upload(proxy.url, token, b"through the proxy")
    assert response.status_code == 200, response.text
    url = response.json()["data"]["uploadFile"]["url"]
    assert url.startswith(f"{proxy.url}/files/"), url
    download = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert download.status_code == 200 and download.content == b"through the proxy"
    assert failed_login(proxy.url, source="127.0.0.1", spoofed=None, username="someone") == 200

    async def browser_websocket():
        ws_url = f"ws://127.0.0.1:{proxy.port}/graphql/"
        subscription = await Subscription.open(ws_url, token=token, origin=proxy.url)
        await subscription.socket.close()

    asyncio.run(browser_websocket())


# --- probes -----------------------------------------------------------------------------


def test_probes_and_metrics_are_not_served_through_the_proxy(proxy, upstream):
    for path in ("/readyz", "//readyz", "/%72eadyz", "/metrics"):
        response = httpx.get(f"{proxy.url}{path}", timeout=5)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert httpx.get(f"{proxy.url}/healthz", timeout=5).status_code == 200
    # The orchestrator's healthcheck reaches the web process itself.
    assert httpx.get(f"{upstream.url}/readyz", timeout=10).status_code == 200
