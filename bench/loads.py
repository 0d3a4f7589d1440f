"""The measurements. Every load is bounded in count and time and targets 127.0.0.1.

The service and the reference (bench/reference) are driven by the same client functions;
an `Api` says how to build each request for one side and how to read its answers.
"""

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import websockets

from files_app.sizes import KIB, MIB

# A 10 KiB text file (the processors see TEXT).
SMALL_FILE = b"".join(
    f"line {i:05d} of a small text file, 10 KiB in all.\n".encode() for i in range(1000)
)[: 10 * KIB]
CLIENTS = 16
LIST_CLIENTS = 8
LIST_PAGE = 100
POLL_SECONDS = 0.020
UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"
TYPENAME = {"query": "{ __typename }"}
SUBSCRIBE = "subscription { fileUpdates { id status version processedAt } }"
PROTOCOL = "graphql-transport-ws"
FILES_QUERY = """query($first: Int) { files(first: $first,
  filters: {statusIn: [DONE, FAILED], nameContains: "report-0"}, order: {size: DESC}) {
  totalCount edges { node { id name size status uploadedAt url } } } }"""
LIST_QUERY = """query($first: Int) { files(first: $first) {
  edges { node { id name size status uploadedAt url } } } }"""
CONNECT_BATCH = 100


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def multipart(name: str, content) -> dict:
    return {
        "data": {
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": (name, content)},
    }


def graphql_refusal(response) -> str | None:
    """The error code (or a short reason) if the service refused the request, else None."""
    try:
        body = response.json() if hasattr(response, "json") else json.loads(response)
    except ValueError:
        return f"HTTP {getattr(response, 'status_code', '?')}, not JSON"
    if not isinstance(body, dict):
        return "unexpected body"
    if body.get("errors"):
        error = body["errors"][0]
        return (error.get("extensions") or {}).get("code") or error.get("message", "error")[:60]
    return None


def check_graphql(response) -> None:
    response.raise_for_status()
    if refusal := graphql_refusal(response):
        raise RuntimeError(f"request refused ({refusal}): {response.text[:500]}")


def check_bare(response) -> None:
    response.raise_for_status()
    if not response.json().get("size"):
        raise RuntimeError(f"the bare app stored nothing: {response.text[:500]}")


# --- the two sides ------------------------------------------------------------------------


@dataclass
class Seen:
    """When a client saw a file processed: perf_counter and wall-clock time, and the event."""

    at: float
    wall: float
    event: dict


class ServiceApi:
    """The service: GraphQL over HTTP with a bearer token; DONE pushed over a websocket."""

    name = "service"

    def __init__(self, server, token: str, worker=None):
        self.url, self.ws_url, self.token = server.url, server.ws_url, token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.processes = {"web": server.pid, **({"worker": worker.pid} if worker else {})}

    def upload(self, name: str, content) -> tuple[str, str, dict]:
        return "POST", "/graphql/", multipart(name, content)

    def upload_id(self, response) -> str:
        return response.json()["data"]["uploadFile"]["id"]

    def listing(self) -> tuple[str, str, dict]:
        return (
            "POST",
            "/graphql/",
            {"json": {"query": LIST_QUERY, "variables": {"first": LIST_PAGE}}},
        )

    def check(self, response) -> None:
        check_graphql(response)

    @contextlib.asynccontextmanager
    async def watch(self, client):
        """Yields `wait_done(file_id) -> Seen`: the DONE event of a `fileUpdates` subscriber."""
        socket = await Socket.open(self.ws_url, self.token)

        async def wait_done(file_id) -> Seen:
            while True:
                event = await socket.next_file()
                if event["id"] == file_id and event["status"] == "DONE":
                    return Seen(time.perf_counter(), time.time(), event)

        try:
            yield wait_done
        finally:
            await socket.socket.close()

    def wait_idle(self, timeout: float = 600) -> None:
        wait_until_processed(timeout)


class ReferenceApi:
    """bench/reference: POST /upload (multipart `file`), GET /files, GET /files/<id>; no auth.
    Processed is seen by polling the file's detail every POLL_SECONDS."""

    name = "reference"

    def __init__(self, stack):
        self.stack, self.url, self.headers = stack, stack.server.url, {}
        self.processes = {"web": stack.server.pid, "worker": stack.worker.pid}

    def upload(self, name: str, content) -> tuple[str, str, dict]:
        return "POST", "/upload", {"files": {"file": (name, content)}}

    def upload_id(self, response):
        return response.json()["id"]

    def listing(self) -> tuple[str, str, dict]:
        return "GET", "/files", {}

    def check(self, response) -> None:
        response.raise_for_status()

    @contextlib.asynccontextmanager
    async def watch(self, client):
        async def wait_done(file_id) -> Seen:
            while True:
                response = await client.get(f"/files/{file_id}")
                response.raise_for_status()
                if response.json()["processed"]:
                    return Seen(time.perf_counter(), time.time(), response.json())
                await asyncio.sleep(POLL_SECONDS)

        yield wait_done

    def wait_idle(self, timeout: float = 600) -> None:
        self.stack.wait_until_processed(timeout)


class BackgroundApi(ReferenceApi):
    """bench/reference/background.py: the same endpoints, its work done in-process after
    answering (FastAPI's BackgroundTasks), no worker."""

    name = "background"

    def __init__(self, stack):
        self.stack, self.url, self.headers = stack, stack.background.url, {}
        self.processes = {"web": stack.background.pid}


# --- 1. big uploads, and answers that must come early -------------------------------------


def make_file(path: Path, size: int) -> Path:
    block = bytes(range(256)) * 4096
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
    return path


def timed_copy(source: Path, target: Path) -> float:
    os.sync()
    started = time.perf_counter()
    shutil.copyfile(source, target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def upload_with_rss(server, headers: dict, path: str, source: Path, check) -> tuple[float, int]:
    """POST `source` as a GraphQL multipart upload to `server` (the service or the bare app:
    the same bytes either way); returns the seconds and the server's peak RSS growth."""
    process = psutil.Process(server.pid)
    os.sync()  # each upload starts with no dirty pages left by the one before
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with source.open("rb") as body, httpx.Client(timeout=600) as client:
            started = time.perf_counter()
            response = client.post(
                f"{server.url}{path}", headers=headers, **multipart(source.name, body)
            )
            elapsed = time.perf_counter() - started
    finally:
        done.set()
        sampler.join()
    check(response)
    return elapsed, peak[0] - baseline


def empty_directory(root: Path) -> None:
    for path in root.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def media_bytes(root: Path) -> int:
    total = 0
    for directory, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(directory) / name).stat().st_size
    return total


@dataclass
class RawAnswer:
    seconds: float | None  # headers sent -> response status line read; None: no answer
    sent: int  # body bytes handed to the kernel when the answer came (or in all)
    body_size: int
    status: int | None
    body: bytes


async def raw_multipart_post(
    url: str, headers: dict, file_size: int, timeout: float = 300
) -> RawAnswer:
    """A GraphQL multipart upload of `file_size` bytes with a true Content-Length, sent over
    a plain socket: headers, the `operations` and `map` fields, then the file in 1 MiB chunks,
    while a reader notices the answer as soon as it comes. Sending stops at the answer."""
    host, port = url.removeprefix("http://").split(":")
    boundary = f"bench{uuid.uuid4().hex}"
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n--{boundary}\r\n"
        f'Content-Disposition: form-data; name="map"\r\n\r\n'
        f"{json.dumps({'0': ['variables.file']})}\r\n--{boundary}\r\n"
        f'Content-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    epilogue = f"\r\n--{boundary}--\r\n".encode()
    length = len(preamble) + file_size + len(epilogue)
    head = "".join(
        [
            f"POST /graphql/ HTTP/1.1\r\nHost: {host}:{port}\r\n",
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n",
            f"Content-Length: {length}\r\n",
            *(f"{name}: {value}\r\n" for name, value in headers.items()),
            "\r\n",
        ]
    ).encode()
    block = bytes(range(256)) * 4096
    reader, writer = await asyncio.open_connection(host, int(port))

    async def read_answer():
        status_line = await reader.readline()
        answered = time.perf_counter()
        head_lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin1").split("\r\n")
        fields = dict(line.split(":", 1) for line in head_lines if ":" in line)
        size = int({k.lower(): v for k, v in fields.items()}.get("content-length", "0").strip())
        body = b""
        with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
            body = await asyncio.wait_for(reader.readexactly(size), 10)
        status = int(status_line.split()[1]) if status_line.split()[1:] else None
        return answered, status, body

    started = time.perf_counter()
    answer = asyncio.ensure_future(read_answer())
    written = 0
    try:
        for part in (head, preamble):
            writer.write(part)
        remaining = file_size
        while remaining > 0 and not answer.done():
            chunk = block[: min(len(block), remaining)]
            writer.write(chunk)
            remaining -= len(chunk)
            written += len(chunk)
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait({drained, answer}, return_when=asyncio.FIRST_COMPLETED)
            if not drained.done():
                drained.cancel()
                break
            drained.result()
        if not answer.done():
            writer.write(epilogue)
            await writer.drain()
    except OSError:
        pass  # the server answered and closed the connection: the reader has the answer
    sent = written - (
        writer.transport.get_write_buffer_size() if not writer.transport.is_closing() else 0
    )
    try:
        answered, status, body = await asyncio.wait_for(answer, timeout)
        seconds = answered - started
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, IndexError):
        seconds, status, body = None, None, b""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return RawAnswer(seconds, max(0, sent), file_size, status, body)


def early_answer(server, media_root: Path, headers: dict, file_size: int):
    """raw_multipart_post, plus what the server process wrote meanwhile (write_chars counts
    every write() it made: files, sockets, logs; write_bytes what reached the block layer) and
    how much MEDIA_ROOT grew. Returns (RawAnswer, written_chars, written_bytes, media_growth)."""
    process = psutil.Process(server.pid)
    media_before = media_bytes(media_root)
    io_before = process.io_counters()
    answer = asyncio.run(raw_multipart_post(server.url, headers, file_size))
    time.sleep(0.5)  # let the server finish with the request before reading its counters
    io_after = process.io_counters()
    return (
        answer,
        io_after.write_chars - io_before.write_chars,
        io_after.write_bytes - io_before.write_bytes,
        media_bytes(media_root) - media_before,
    )


def wait_until_processed(timeout: float) -> None:
    from django.db import DatabaseError, connection

    from files_app.models import File, FileStatus

    deadline = time.monotonic() + timeout
    while True:
        try:
            if not File.objects.filter(
                status__in=[FileStatus.PENDING, FileStatus.PROCESSING]
            ).exists():
                return
        except DatabaseError:  # PostgreSQL restarted under the bench: connect again
            connection.close()
        if time.monotonic() > deadline:
            raise TimeoutError("files still processing")
        time.sleep(0.2)


# --- 2. small uploads, one client, the list, upload → DONE --------------------------------


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU time of a process and its children (gunicorn's and Celery's
    workers are children)."""
    try:
        process = psutil.Process(pid)
        total = 0.0
        for each in [process, *(process.children(recursive=True) if children else [])]:
            with contextlib.suppress(psutil.Error):
                times = each.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


@dataclass
class Run:
    latencies: list[float]
    seconds: float
    cores: dict[str, float]  # CPU cores each process busied on average: client, web, worker

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction) -> float:
        return percentile(self.latencies, fraction) * 1000

    def cpu_note(self) -> str:
        return "/".join(f"{cores:.1f}" for cores in self.cores.values())


async def closed_loop(api, build, seconds: float, clients: int = CLIENTS) -> Run:
    """`clients` clients, each sending its next request as soon as the last one is answered,
    for `seconds`; the rate counts until the last answer."""
    latencies: list[float] = []
    processes = {"client": os.getpid(), **api.processes}

    def cpu(name):  # the client is this process alone: the servers are its children
        return cpu_seconds(processes[name], children=name != "client")

    cpu_before = {name: cpu(name) for name in processes}
    started = time.perf_counter()
    deadline = started + seconds

    async def client_loop():
        async with httpx.AsyncClient(base_url=api.url, timeout=60, headers=api.headers) as client:
            while time.perf_counter() < deadline:
                method, path, kwargs = build()
                sent = time.perf_counter()
                response = await client.request(method, path, **kwargs)
                api.check(response)
                latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    cores = {name: (cpu(name) - cpu_before[name]) / elapsed for name in processes}
    return Run(latencies, elapsed, cores)


def side_by_side(apis, build, seconds, clients) -> dict[str, Run]:
    """The same load on each side in turn; each side's worker is drained before the next."""
    results = {}
    for api in apis:
        results[api.name] = asyncio.run(
            closed_loop(api, lambda api=api: build(api), seconds, clients)
        )
        api.wait_idle()
    return results


def cpu_note(runs: dict[str, Run]) -> str:
    return (
        f"CPU cores client/web/worker: {runs['service'].cpu_note()}, "
        f"ref {runs['reference'].cpu_note()}"
    )


def small_uploads(report, service, reference, seconds):
    background = BackgroundApi(reference.stack)
    runs = side_by_side(
        (service, reference, background),
        lambda api: api.upload("small.txt", SMALL_FILE),
        seconds,
        CLIENTS,
    )
    run, ref = runs["service"], runs["reference"]
    report.add(
        f"small uploads (10 KiB, {CLIENTS} clients): rate",
        run.rate,
        "uploads/s",
        reference=ref.rate,
        target="≥ 2.0 × ref",
        passed=run.rate >= 2.0 * ref.rate,
        note="ref: bench/reference, gunicorn 1 sync worker",
    )
    report.add(
        f"small uploads ({CLIENTS} clients) against work in-process: rate",
        run.rate,
        "uploads/s",
        reference=runs["background"].rate,
        target="≥ 1.0 × ref",
        passed=run.rate >= runs["background"].rate,
        note="ref: bench/reference/background.py, FastAPI BackgroundTasks, 1 uvicorn process",
    )
    report.add(
        "small uploads: p50 latency",
        run.percentile(0.5),
        "ms",
        reference=ref.percentile(0.5),
        note=cpu_note(runs),
    )
    report.add(
        "small uploads: p99 latency",
        run.percentile(0.99),
        "ms",
        reference=ref.percentile(0.99),
        target="< ref",
        passed=run.percentile(0.99) < ref.percentile(0.99),
    )


def one_client_uploads(report, service, reference, seconds):
    runs = side_by_side(
        (service, reference), lambda api: api.upload("small.txt", SMALL_FILE), seconds, 1
    )
    run, ref = runs["service"], runs["reference"]
    report.add(
        "one client, upload answered: p50",
        run.percentile(0.5),
        "ms",
        reference=ref.percentile(0.5),
        target="≤ 1.0 × ref",
        passed=run.percentile(0.5) <= ref.percentile(0.5),
    )
    report.add(
        "one client, upload answered: p99",
        run.percentile(0.99),
        "ms",
        reference=ref.percentile(0.99),
        note=cpu_note(runs),
    )


def listing(report, service, reference, seconds, reference_rows):
    runs = side_by_side((service, reference), lambda api: api.listing(), seconds, LIST_CLIENTS)
    run, ref = runs["service"], runs["reference"]
    report.add(
        f"files(first: {LIST_PAGE}), {LIST_CLIENTS} clients: rate",
        run.rate,
        "req/s",
        reference=ref.rate,
        target="≥ 2 × ref",
        passed=run.rate >= 2 * ref.rate,
        note=f"ref: GET /files, all {reference_rows:,} rows",
    )
    report.add(
        f"files(first: {LIST_PAGE}): p50",
        run.percentile(0.5),
        "ms",
        reference=ref.percentile(0.5),
        note=cpu_note(runs),
    )


async def upload_to_done(api, files) -> tuple[list[float], list[Seen]]:
    """One client: upload a 10 KiB text file, then wait until it is seen processed; again."""
    latencies, seen = [], []
    async with httpx.AsyncClient(base_url=api.url, timeout=30, headers=api.headers) as client:
        async with api.watch(client) as wait_done:
            for _ in range(files):
                method, path, kwargs = api.upload("push.txt", SMALL_FILE)
                started = time.perf_counter()
                response = await client.request(method, path, **kwargs)
                api.check(response)
                done = await wait_done(api.upload_id(response))
                latencies.append(done.at - started)
                seen.append(done)
    return latencies, seen


# --- 3. files query -----------------------------------------------------------------------


class QueryCounter:
    """An execute wrapper on every database connection of this process (also those that
    threads open later): counts the SQL statements run through Django."""

    def __init__(self):
        from django.db import connections
        from django.db.backends.signals import connection_created

        self.count = 0
        self.lock = threading.Lock()
        connection_created.connect(self.wrap, weak=False)
        for connection in connections.all():
            self.wrap(None, connection)

    def wrap(self, sender, connection, **kwargs):
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def __call__(self, execute, sql, params, many, context):
        with self.lock:
            self.count += 1
        return execute(sql, params, many, context)


def queries_per_request(token, page_sizes) -> dict[int, int]:
    """SQL statements one `files` request runs, page size -> count: the service's ASGI app
    runs in this process (httpx.ASGITransport), so every statement it sends is counted."""
    import importlib

    from bench.stack import SERVICE_APP

    module, attribute = SERVICE_APP.split(":")
    application = getattr(importlib.import_module(module), attribute)
    counter = QueryCounter()

    async def count():
        counts = {}
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            for size in page_sizes:
                body = {"query": FILES_QUERY, "variables": {"first": size}}
                (await client.post("/graphql/", json=body)).raise_for_status()  # warm up
                before = counter.count
                response = await client.post("/graphql/", json=body)
                counts[size] = counter.count - before
                check_graphql(response)
                assert len(response.json()["data"]["files"]["edges"]) == size
        return counts

    return asyncio.run(count())


def files_query(report, server, token, requests):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:

        def timed(body):
            started = time.perf_counter()
            client.post("/graphql/", json=body).raise_for_status()
            return time.perf_counter() - started

        reference = [timed(TYPENAME) for _ in range(requests)]
        page = {"query": FILES_QUERY, "variables": {"first": 50}}
        latencies = [timed(page) for _ in range(requests)]
    report.add(
        "files query (50 of many, filtered+ordered): p50",
        percentile(latencies, 0.5) * 1000,
        "ms",
        reference=percentile(reference, 0.5) * 1000,
    )
    report.add(
        "files query: p99",
        percentile(latencies, 0.99) * 1000,
        "ms",
        reference=percentile(reference, 0.99) * 1000,
    )
    counts = queries_per_request(token, (5, 50))
    report.add(
        "files query: SQL queries per request (page 50)",
        counts[50],
        "queries",
        reference=counts[5],
        target="≤ 3, same for any page",
        passed=counts[50] <= 3 and counts[50] == counts[5],
        note="ref: page of 5",
    )


# --- 4. live push latency -----------------------------------------------------------------


class Socket:
    """A minimal graphql-transport-ws client (the bench does not import the tests)."""

    def __init__(self, socket):
        self.socket = socket

    @classmethod
    async def open(cls, url, token, query=SUBSCRIBE):
        socket = await websockets.connect(
            url, subprotocols=[PROTOCOL], open_timeout=30, max_queue=None
        )
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        return cls(socket)

    async def next_file(self, timeout=30) -> dict:
        message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        return message["payload"]["data"]["fileUpdates"]


async def channel_layer_round_trip(samples=200) -> list[float]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("bench.reference", channel)
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        await layer.group_send("bench.reference", {"type": "bench.ping"})
        await layer.receive(channel)
        latencies.append(time.perf_counter() - started)
    await layer.group_discard("bench.reference", channel)
    return latencies


def push_latency(report, service, reference, files):
    latencies, seen = asyncio.run(upload_to_done(service, files))
    ref_latencies, _ = asyncio.run(upload_to_done(reference, files))
    p50, ref_p50 = percentile(latencies, 0.5) * 1000, percentile(ref_latencies, 0.5) * 1000
    report.add(
        f"upload → DONE seen by subscriber ({files}×10 KiB): p50",
        p50,
        "ms",
        reference=ref_p50,
        target="≤ 20 ms",
        passed=p50 <= 20,
        note=f"ref: upload → processed, polling detail every {POLL_SECONDS * 1000:.0f} ms",
    )
    report.add(
        "upload → DONE: p99",
        percentile(latencies, 0.99) * 1000,
        "ms",
        reference=percentile(ref_latencies, 0.99) * 1000,
    )
    pushed = [
        done.wall - datetime.fromisoformat(done.event["processedAt"]).timestamp() for done in seen
    ]
    channel = asyncio.run(channel_layer_round_trip())
    report.add(
        "live push, DONE → client: p50",
        percentile(pushed, 0.5) * 1000,
        "ms",
        reference=percentile(channel, 0.5) * 1000,
        target="≤ 20 ms",
        passed=percentile(pushed, 0.5) <= 0.020,
        note="ref: channel-layer send→receive",
    )
    report.add(
        "live push, DONE → client: p99",
        percentile(pushed, 0.99) * 1000,
        "ms",
        reference=percentile(channel, 0.99) * 1000,
        target="≤ 100 ms",
        passed=percentile(pushed, 0.99) <= 0.100,
    )


# --- 5. fan-out: bench/watchers.py ------------------------------------------------------


# --- 6. processing ------------------------------------------------------------------------


def worker_cpu_seconds(worker) -> float:
    """CPU the worker has used so far, its pool processes included."""
    process = psutil.Process(worker.pid)
    return sum(
        times.user + times.system
        for times in (one.cpu_times() for one in [process, *process.children(recursive=True)])
    )


def processing_throughput(report, count, worker):
    from bench import fixtures
    from files_app import processors
    from files_app.models import File, FileStatus
    from files_app.services.processing import processing_limits
    from files_app.tasks import process_file

    files = fixtures.stored_text_files("bench-processing", count)
    cpu_before = worker_cpu_seconds(worker)
    started = time.perf_counter()
    for file in files:
        process_file.delay(str(file.pk))
    deadline = time.monotonic() + 300
    finished = File.objects.filter(
        pk__in=[f.pk for f in files], status__in=[FileStatus.DONE, FileStatus.FAILED]
    )
    while (done := finished.count()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    cpu = worker_cpu_seconds(worker) - cpu_before
    failed = finished.filter(status=FileStatus.FAILED).count()
    reference_started = time.perf_counter()
    for file in files:
        with file.stored_file.open("rb") as stream:
            processors.run(
                processors.ProcessingSource(
                    stream=stream,
                    size=file.size,
                    name=file.name,
                    content_type="",
                    chunk_size=MIB,
                    report_progress=lambda fraction: None,
                    limits=processing_limits(),
                )
            )
    reference = time.perf_counter() - reference_started
    problems = ([f"only {done} of {count} finished in 300 s"] if done < count else []) + (
        [f"{failed} FAILED"] if failed else []
    )
    report.add(
        f"processing {count} small files, one worker",
        done / elapsed,
        "files/s",
        reference=count / reference,
        passed=False if problems else None,
        note="; ".join(problems) or "ref: same processors in-process, no queue/DB",
    )
    report.add(
        "processing: the worker's CPU per small file",
        cpu / max(done, 1) * 1000,
        "ms",
        reference=reference / count * 1000,
        note="ref: the same processors in-process",
    )


def csv_processing(report, megabytes):
    script = Path(__file__).with_name("csv_memory.py")
    output = subprocess.run(
        [sys.executable, str(script), "--megabytes", str(megabytes), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    report.add(
        f"CSV {megabytes} MiB: rows/s",
        figures["rows"] / figures["seconds"],
        "rows/s",
        reference=figures["rows"] / figures["plain_seconds"],
        note="ref: bare csv.reader over the file",
    )
    report.add(
        f"CSV {megabytes} MiB: worker peak RSS",
        figures["peak_rss_mib"],
        "MiB",
        target="≤ 128 MiB",
        passed=figures["peak_rss_mib"] <= 128,
    )
