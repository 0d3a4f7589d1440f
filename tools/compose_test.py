"""`make compose-test`: docker-compose.yml run the way a user runs it, on podman, with local
stand-ins for the Docker Hub images (deploy/standins/), and used through the proxy as a user
and a browser use it; then scaled out to two web and two worker containers. Everything it
started is torn down at the end, on failure and on Ctrl-C too.

podman-compose 1.6 on podman 4.3 ignores `depends_on: condition: service_healthy` and runs no
healthchecks by itself (no systemd): the services are started in compose's order, each once
the ones it depends on pass `podman healthcheck run`. Names in a compose network resolve
slowly after containers are (re)created, so every wait is for an answer, never a sleep.

    COMPOSE_TEST_PORT (8000): the host port the proxy publishes (compose's PROXY_PORT).
"""

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT = os.environ.get("COMPOSE_TEST_PROJECT", "livefilescomposetest")
PORT = int(os.environ.get("COMPOSE_TEST_PORT", "8000"))
ORIGIN = f"http://127.0.0.1:{PORT}"
IMAGE = "live-files:latest"
STANDINS = ["python:3.11-slim", "node:20-slim", "postgres:16", "redis:7", "nginx:1.27"]
CONTAINERS_CONF = Path.home() / ".config" / "containers" / "standins.conf"
USERNAME, PASSWORD = "composer", secrets.token_urlsafe(16)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
UPDATES = "subscription { fileUpdates { id name status } }"
UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id name status } }"
FILES = "{ files(first: 50) { edges { node { id name status url } } } }"
STARTED = time.monotonic()


class Failed(Exception):
    """A step did not do what a user would expect."""


def say(message: str) -> None:
    print(f"compose-test [{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def environment() -> dict:
    """This shell's environment without any of the service's settings (so compose's own
    defaults apply, as for a user without .env), the stand-ins' podman configuration, a
    fresh SECRET_KEY and the port."""
    names = set()
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        name = line.lstrip("# ").split("=", 1)[0]
        if "=" in line and name.isupper():
            names.add(name)
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(
        CONTAINERS_CONF=str(CONTAINERS_CONF),
        SECRET_KEY=secrets.token_urlsafe(50),
        PROXY_PORT=str(PORT),
    )
    return env


ENV = environment()


def run(*command: str, check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=BASE_DIR, env=ENV, text=True, capture_output=quiet, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        output = (result.stdout or "") + (result.stderr or "") if quiet else ""
        raise Failed(f"{' '.join(command)} exited {result.returncode}\n{output[-3000:]}")
    return result


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    podman_compose = Path(sys.executable).with_name("podman-compose")
    return run(str(podman_compose), "-p", PROJECT, *args, check=check)


def container(service: str, index: int = 1) -> str:
    return f"{PROJECT}_{service}_{index}"


def until(what: str, check, timeout: float = 120.0, every: float = 1.0):
    """check()'s first true answer within `timeout` seconds, else Failed."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            answer = check()
        except (httpx.HTTPError, OSError) as error:
            answer, last = None, error
        if answer:
            return answer
        time.sleep(every)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last!r})")


def passes(what: str, *command: str) -> None:
    until(what, lambda: run(*command, check=False).returncode == 0, timeout=150, every=2.0)


def healthy(name: str) -> None:
    passes(f"{name} healthy", "podman", "healthcheck", "run", name)


def project_containers(*options: str) -> list[str]:
    label = f"label=io.podman.compose.project={PROJECT}"
    return run("podman", "ps", *options, "--filter", label, check=False).stdout.split()


# --- set-up ---------------------------------------------------------------------------------


def prepare() -> None:
    """The stand-ins (built once per machine) and the image (`--format docker` keeps its
    HEALTHCHECK)."""
    missing = [
        image
        for image in STANDINS
        if run("podman", "image", "exists", f"docker.io/library/{image}", check=False).returncode
    ]
    if missing or not CONTAINERS_CONF.exists():
        say(f"building the stand-in base images ({', '.join(missing) or 'podman configuration'})")
        # It writes CONTAINERS_CONF's file when the variable is unset.
        without = {k: v for k, v in ENV.items() if k != "CONTAINERS_CONF"}
        subprocess.run(
            ["sh", "deploy/standins/build-standins.sh"], cwd=BASE_DIR, env=without, check=True
        )
    began = time.monotonic()
    say(f"building {IMAGE}")
    run("podman", "build", "-q", "--format", "docker", "--network", "host", "-t", IMAGE, ".")
    say(f"built {IMAGE} in {time.monotonic() - began:.0f} s")


def teardown() -> None:
    """Every container, pod, network and volume of the project, whatever state it is in."""
    compose("down", "-v", "-t", "5", check=False)
    left = project_containers("-aq")
    if left:
        run("podman", "rm", "-f", "-t", "2", *left, check=False)
    run("podman", "pod", "rm", "-f", f"pod_{PROJECT}", check=False)  # podman-compose's pod
    label = f"label=io.podman.compose.project={PROJECT}"
    for kind in ("volume", "network"):
        names = run("podman", kind, "ls", "-q", "--filter", label, check=False).stdout.split()
        if names:
            run("podman", kind, "rm", "-f", *names, check=False)


def bring_up() -> None:
    """The compose file's services, each after what it depends on is healthy."""
    compose("up", "-d", "--no-build", "--no-deps", "postgres", "redis")
    healthy(container("postgres"))
    healthy(container("redis"))
    say("postgres and redis healthy")
    compose("up", "-d", "--no-build", "--no-deps", "migrate")
    code = run("podman", "wait", container("migrate")).stdout.strip()
    if code != "0":
        logs = run("podman", "logs", container("migrate"), check=False)
        raise Failed(f"migrate exited {code}:\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
    say("migrate (migrations, collectstatic) done")
    compose("up", "-d", "--no-build", "--no-deps", "web", "worker", "beat")
    healthy(container("web"))  # /readyz: database, broker, channel layer, storage
    healthy(container("worker"))  # celery inspect ping to its own name
    names_settled(container("web"))
    names_settled(container("worker"))
    say("web ready (/readyz), worker answers its ping")
    compose("up", "-d", "--no-build", "--no-deps", "proxy")
    until("the proxy", lambda: httpx.get(f"{ORIGIN}/healthz", timeout=5).status_code == 200)
    readyz = httpx.get(f"{ORIGIN}/readyz", timeout=5)
    if readyz.status_code != 404:
        raise Failed(f"the proxy passed /readyz on: {readyz.status_code}")
    say(f"the proxy answers on :{PORT} (/healthz 200; /readyz kept inside: 404)")


# --- what a user does -------------------------------------------------------------------------


def manage(*args: str, env: dict | None = None) -> str:
    extra = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
    command = ["podman", "exec", *extra, container("web"), "python", "manage.py", *args]
    return run(*command).stdout


def account() -> str:
    """A user and an API token, made with the image's management commands."""
    manage("create_user", USERNAME, env={"NEW_USER_PASSWORD": PASSWORD})
    token = manage("create_api_token", USERNAME, "--name", "compose-test").split()[-1]
    say("user and token made with manage.py create_user / create_api_token")
    return token


def graphql(client: httpx.Client, url: str, token: str, **request) -> dict:
    answer = client.post(url, headers={"Authorization": f"Bearer {token}"}, **request)
    body = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise Failed(f"GraphQL at {url}: {answer.status_code} {body}")
    return body["data"]


def upload(client: httpx.Client, url: str, token: str, name: str, content: bytes) -> str:
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    data = graphql(
        client,
        url,
        token,
        data={"operations": operations, "map": '{"0": ["variables.file"]}'},
        files={"0": (name, content, "application/octet-stream")},
    )
    return data["uploadFile"]["id"]


async def subscribed(uri: str, token: str, **connection):
    """A websocket subscribed to all of the user's file updates (Origin as a browser sends)."""
    ws = await connect(
        uri,
        subprotocols=["graphql-transport-ws"],
        origin=ORIGIN,
        open_timeout=30,
        **connection,
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack["type"] != "connection_ack":
        raise Failed(f"websocket at {uri}: {ack}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}))
    return ws


async def until_done(ws, file_ids: set[str], timeout: float = 90.0) -> None:
    """Every file of `file_ids` reaches DONE on this websocket."""
    waiting = set(file_ids)

    async def read() -> None:
        async for text in ws:
            message = json.loads(text)
            if message["type"] == "next":
                update = message["payload"]["data"]["fileUpdates"]
                if update["status"] == "FAILED" and update["id"] in waiting:
                    raise Failed(f"processing failed: {update}")
                if update["status"] == "DONE":
                    waiting.discard(update["id"])
                    if not waiting:
                        return
            elif message["type"] in ("error", "complete"):
                raise Failed(f"subscription ended: {message}")

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise Failed(f"no DONE within {timeout:.0f} s for {sorted(waiting)}") from None


async def upload_download_and_watch(token: str) -> None:
    """An upload through the proxy reaches DONE, seen live over the proxy's websocket, and its
    `url` downloads the same bytes through the proxy."""
    ws = await subscribed(f"ws://127.0.0.1:{PORT}/graphql/", token)
    content = secrets.token_bytes(300_000)
    with httpx.Client(timeout=30) as client:
        file_id = await asyncio.to_thread(
            upload, client, f"{ORIGIN}/graphql/", token, "a.bin", content
        )
        await until_done(ws, {file_id})
        say("upload reached DONE, seen live over the proxy's websocket")
        files = graphql(client, f"{ORIGIN}/graphql/", token, json={"query": FILES})
        [url] = [e["node"]["url"] for e in files["files"]["edges"] if e["node"]["id"] == file_id]
        if not url.startswith(f"{ORIGIN}/"):
            raise Failed(f"the file's url does not name the published origin: {url}")
        download = client.get(url, headers={"Authorization": f"Bearer {token}"})
        if download.status_code != 200 or download.content != content:
            raise Failed(
                f"download of {url}: {download.status_code}, {len(download.content)} bytes"
            )
    await ws.close()
    say(f"downloaded the same bytes from its url ({url})")


def static_files() -> None:
    """The page's script from the proxy's /static/, as gzip and as it is; and the image's own
    collected copy readable by the user the web server runs as."""
    url = f"{ORIGIN}/static/app/app.js"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"}, timeout=10)
    if plain.status_code != 200 or plain.headers.get("content-encoding"):
        raise Failed(f"{url} without gzip: {plain.status_code} {dict(plain.headers)}")
    if zipped.status_code != 200 or zipped.headers.get("content-encoding") != "gzip":
        raise Failed(f"{url} with gzip: {zipped.status_code} {dict(zipped.headers)}")
    if zipped.content != plain.content:  # httpx decodes it
        raise Failed(f"{url}: the gzip copy differs from the file")
    unreadable = run("podman", "exec", container("web"), "find", "/app/static", "!", "-readable")
    if unreadable.stdout.strip():
        raise Failed(
            f"the image's /app/static is not readable by its user:\n{unreadable.stdout[:500]}"
        )
    say("static files served by the proxy with and without gzip; /app/static readable by app")


def browser_login() -> None:
    """A login from Chromium (its POST carries Origin), then the page goes live over the
    proxy's websocket."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(base_url=ORIGIN)
            page.set_default_timeout(30_000)
            page.goto("/accounts/login/")
            page.fill("#id_username", USERNAME)
            page.fill("#id_password", PASSWORD)
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.click("input[type=submit]")
            if posted.value.status >= 400:
                raise Failed(
                    f"the login POST answered {posted.value.status}: {posted.value.text()[:300]}"
                )
            page.goto("/")
            page.wait_for_selector("#live[data-state=live]")
        finally:
            browser.close()
    say("logged in from Chromium; the page is live over the proxy's websocket")


# --- scaled out -------------------------------------------------------------------------------


def addresses(name: str) -> list[str]:
    networks = json.loads(run("podman", "inspect", name).stdout)[0]["NetworkSettings"]["Networks"]
    return [network["IPAddress"] for network in networks.values() if network["IPAddress"]]


def processed_by(name: str) -> int:
    logs = run("podman", "logs", name, check=False)
    return sum(
        "process_file" in line and "succeeded" in line
        for line in (logs.stdout + logs.stderr).splitlines()
    )


async def across_replicas(token: str) -> None:
    """Subscribed on web 1, uploaded on web 2 (each reached at its own address, under the
    published Host): the events cross web processes. Several files: both workers work."""
    host = f"127.0.0.1:{PORT}"
    first, second = addresses(container("web", 1))[0], addresses(container("web", 2))[0]
    ws = await subscribed(f"ws://{host}/graphql/", token, host=first, port=8000)
    before = {w: processed_by(container("worker", w)) for w in (1, 2)}
    ids = set()
    with httpx.Client(timeout=60, headers={"Host": host}) as client:
        for batch in range(4):  # until both workers have had some
            url = f"http://{second}:8000/graphql/"
            sent = {
                await asyncio.to_thread(
                    upload, client, url, token, f"s{batch}{n}.bin", secrets.token_bytes(4_000_000)
                )
                for n in range(4)
            }
            await until_done(ws, sent)
            ids |= sent
            done = {w: processed_by(container("worker", w)) - before[w] for w in (1, 2)}
            if all(done.values()):
                break
    await ws.close()
    say(f"events of uploads to web 2 reached a subscriber on web 1 ({len(ids)} files)")
    if not all(done.values()):
        raise Failed(f"files processed per worker: {done}")
    say(f"both workers processed files: {done}")


def connections_held() -> None:
    """PostgreSQL's and Redis's connections per container after the run (for
    docs/operations.md's sizing: printed, not asserted)."""
    owners = {}
    for name in project_containers("--format", "{{.Names}}"):
        owners.update({ip: name.removeprefix(f"{PROJECT}_") for ip in addresses(name)})
    sql = "SELECT client_addr FROM pg_stat_activity WHERE client_addr IS NOT NULL"
    pg = run("podman", "exec", container("postgres"), "psql", "-U", "files", "-Atc", sql)
    redis = run("podman", "exec", container("redis"), "redis-cli", "client", "list").stdout
    redis_ips = [f[5:].rsplit(":", 1)[0] for f in redis.split() if f.startswith("addr=")]
    counts: dict[str, list[int]] = {}
    for index, ips in enumerate([pg.stdout.split(), redis_ips]):
        for ip in ips:
            if ip != "127.0.0.1":  # redis-cli itself
                counts.setdefault(owners.get(ip, ip), [0, 0])[index] += 1
    held = ", ".join(f"{name} {pg_n}/{redis_n}" for name, (pg_n, redis_n) in sorted(counts.items()))
    say(f"connections held (PostgreSQL/Redis): {held}")


RESOLVE_QUICKLY = (
    "import socket, sys, time; began = time.monotonic(); "
    "[socket.getaddrinfo(name, None) for name in ('redis', 'postgres')]; "
    "sys.exit(time.monotonic() - began > 0.5)"
)


def names_settled(name: str) -> None:
    """Until the compose network's names resolve at once in `name`: after containers are
    created, lookups take seconds for a while, and a publish waiting on one times out."""
    passes(f"names resolving in {name}", "podman", "exec", name, "python", "-c", RESOLVE_QUICKLY)


def scale_out() -> None:
    # `--scale web=2 --scale worker=2`; podman-compose 1.6 keeps only the last --scale given.
    for service in ("web", "worker"):
        compose("up", "-d", "--no-build", "--no-deps", "--scale", f"{service}=2", service)
    for name in (container("web", 1), container("web", 2)):
        healthy(name)
    for name in (container("worker", 1), container("worker", 2)):
        healthy(name)
    for name in [container(kind, n) for kind in ("web", "worker") for n in (1, 2)]:
        names_settled(name)
    run("podman", "restart", "-t", "5", container("proxy"))  # nginx resolves `web` at start
    until(
        "the proxy after scaling",
        lambda: httpx.get(f"{ORIGIN}/healthz", timeout=5).status_code == 200,
    )
    say("scaled to web=2, worker=2; both of each healthy; proxy restarted")


def main() -> int:
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    ok = False
    try:
        prepare()
        teardown()  # what an interrupted run may have left
        bring_up()
        token = account()
        asyncio.run(upload_download_and_watch(token))
        static_files()
        browser_login()
        scale_out()
        asyncio.run(across_replicas(token))
        connections_held()
        ok = True
    except Failed as failure:
        say(f"FAILED: {failure}")
        for name in project_containers("-a", "--format", "{{.Names}}"):
            logs = run("podman", "logs", "--tail", "15", name, check=False)
            print(f"----- {name}\n{logs.stdout}{logs.stderr}", flush=True)
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        say("tearing down")
        teardown()
        say(f"{'passed' if ok else 'FAILED'}: took {time.monotonic() - STARTED:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
