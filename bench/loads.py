"""The six measurements. Every load is bounded in count and time and targets 127.0.0.1."""

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import websockets

MIB = 1024 * 1024
SMALL_FILE = b"x" * 10_000
CLIENTS = 16
UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"
TYPENAME = {"query": "{ __typename }"}
SUBSCRIBE = "subscription { fileUpdates { id status version processedAt } }"
PROTOCOL = "graphql-transport-ws"
FILES_QUERY = """query($first: Int) { files(first: $first,
  filters: {statusIn: [DONE, FAILED], nameContains: "report-0"}, order: {size: DESC}) {
  totalCount edges { node { id name size status uploadedAt url } } } }"""
CONNECT_BATCH = 100


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def multipart(name: str, content) -> dict:
    return {"data": {"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                     "map": json.dumps({"0": ["variables.file"]})},
            "files": {"0": (name, content)}}


# --- 1. big uploads -----------------------------------------------------------------------

def make_file(path: Path, size: int) -> Path:
    block = bytes(range(256)) * 4096
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
    return path


def timed_copy(source: Path, target: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(source, target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def upload_with_rss(server, token, source: Path) -> tuple[float, int]:
    process = psutil.Process(server.pid)
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with source.open("rb") as body, httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        response = client.post(f"{server.url}/graphql/",
                               headers={"Authorization": f"Bearer {token}"},
                               **multipart(source.name, body))
        elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    response.raise_for_status()
    assert "errors" not in response.json(), response.text
    return elapsed, peak[0] - baseline


def wait_until_processed(timeout: float) -> None:
    from files_app.models import File, FileStatus

    deadline = time.monotonic() + timeout
    while File.objects.filter(status__in=[FileStatus.PENDING, FileStatus.PROCESSING]).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("files still processing")
        time.sleep(0.2)


# --- 2. small uploads ---------------------------------------------------------------------

async def closed_loop(server, token, seconds, request) -> list[float]:
    """CLIENTS clients, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client_loop():
        async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await request(client)
                response.raise_for_status()
                if "errors" in response.json():
                    raise RuntimeError(f"request refused: {response.text}")
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))
    return latencies


async def small_uploads(report, server, token, seconds):
    reference = await closed_loop(server, token, max(2, seconds // 2),
                                  lambda c: c.post("/graphql/", json=TYPENAME))
    uploads = await closed_loop(server, token, seconds,
                                lambda c: c.post("/graphql/", **multipart("small.txt", SMALL_FILE)))
    ref_p99, p99 = percentile(reference, 0.99) * 1000, percentile(uploads, 0.99) * 1000
    report.add("small uploads (10 KB, 16 clients): rate", len(uploads) / seconds, "uploads/s",
               reference=len(reference) / max(2, seconds // 2), note="ref: { __typename } req/s")
    report.add("small uploads: p50 latency", percentile(uploads, 0.5) * 1000, "ms",
               reference=percentile(reference, 0.5) * 1000)
    report.add("small uploads: p99 latency", p99, "ms", reference=ref_p99, target="≤ 150 ms",
               passed=p99 <= 150)


# --- 3. files query -----------------------------------------------------------------------

def queries_per_request(token, page_size) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    body = json.dumps({"query": FILES_QUERY, "variables": {"first": page_size}})
    client.post("/graphql/", body, content_type="application/json")  # warm the token's use
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/graphql/", body, content_type="application/json")
    assert len(response.json()["data"]["files"]["edges"]) == page_size
    return len(captured.captured_queries)


def files_query(report, server, token, requests):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        def timed(body):
            started = time.perf_counter()
            client.post("/graphql/", json=body).raise_for_status()
            return time.perf_counter() - started

        reference = [timed(TYPENAME) for _ in range(requests)]
        page = {"query": FILES_QUERY, "variables": {"first": 50}}
        latencies = [timed(page) for _ in range(requests)]
    report.add("files query (50 of many, filtered+ordered): p50", percentile(latencies, 0.5) * 1000,
               "ms", reference=percentile(reference, 0.5) * 1000)
    report.add("files query: p99", percentile(latencies, 0.99) * 1000, "ms",
               reference=percentile(reference, 0.99) * 1000)
    counts = {size: queries_per_request(token, size) for size in (5, 50)}
    report.add("files query: SQL queries per request (page 50)", counts[50], "queries",
               reference=counts[5], target="≤ 3, same for any page",
               passed=counts[50] <= 3 and counts[50] == counts[5], note="ref: page of 5")


# --- 4. live push latency ------------------------------------------------------------------

class Socket:
    """A minimal graphql-transport-ws client (the bench does not import the tests)."""

    def __init__(self, socket):
        self.socket = socket

    @classmethod
    async def open(cls, url, token, query=SUBSCRIBE):
        socket = await websockets.connect(url, subprotocols=[PROTOCOL], open_timeout=30,
                                          max_queue=None)
        await socket.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {token}"}}))
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


async def push_latency(report, server, token, files):
    socket = await Socket.open(server.ws_url, token)
    latencies = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(files):
            response = await client.post("/graphql/", **multipart("push.txt", b"push me\n"))
            file_id = response.json()["data"]["uploadFile"]["id"]
            while True:
                event = await socket.next_file()
                if event["id"] == file_id and event["status"] == "DONE":
                    received = time.time()
                    break
            done_at = datetime.fromisoformat(event["processedAt"]).timestamp()
            latencies.append(received - done_at)
    await socket.socket.close()
    reference = await channel_layer_round_trip()
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    report.add(f"live push, DONE → client ({files} files): p50", p50, "ms",
               reference=percentile(reference, 0.5) * 1000, target="≤ 20 ms", passed=p50 <= 20,
               note="ref: channel-layer send→receive")
    report.add("live push: p99", p99, "ms", reference=percentile(reference, 0.99) * 1000,
               target="≤ 100 ms", passed=p99 <= 100)


# --- 5. fan-out ---------------------------------------------------------------------------

async def fan_out(report, server, subscribers):
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from bench import fixtures
    from files_app import events
    from schema.ids import encode_file_id

    files = await sync_to_async(fixtures.one_file_each)("bench-fan", subscribers)
    sockets: list[Socket] = []
    for start in range(0, subscribers, CONNECT_BATCH):
        batch = files[start:start + CONNECT_BATCH]
        sockets += await asyncio.gather(*(Socket.open(server.ws_url, token) for _, token in batch))
    layer = get_channel_layer()

    async def publish_round(version):
        sent = {}
        for file, _ in files:
            state = {**events.file_state(file), "version": version}
            sent[encode_file_id(file.pk)] = time.perf_counter()
            await layer.group_send(events.owner_group(file.owner_id),
                                   {"type": events.MESSAGE_TYPE, "file": state})
        return sent

    async def receive_all(timeout):
        async def one(socket):
            try:
                event = await socket.next_file(timeout)
                return event["id"], time.perf_counter()
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                return None, None
        return await asyncio.gather(*(one(socket) for socket in sockets))

    # Round 1 also proves every subscription has joined its group; round 2 is measured.
    receiving = asyncio.ensure_future(receive_all(60))
    await publish_round(10**6)
    await receiving
    receiving = asyncio.ensure_future(receive_all(30))
    started = time.perf_counter()
    sent = await publish_round(10**6 + 1)
    received = await receiving
    latencies = [at - sent[file_id] for file_id, at in received if file_id]
    dropped = subscribers - len(latencies)
    await asyncio.gather(*(socket.socket.close() for socket in sockets))
    everyone = max(at for _, at in received if at) - started if latencies else float("inf")
    p99 = percentile(latencies, 0.99) if latencies else float("inf")
    report.add(f"fan-out to {subscribers} subscribers: p99", p99 * 1000, "ms",
               reference=percentile(latencies, 0.5) * 1000 if latencies else None,
               target="≤ 1000 ms, 0 dropped", passed=p99 <= 1 and dropped == 0,
               note=f"ref: p50; dropped {dropped}")
    report.add("fan-out: time until all received", everyone * 1000, "ms")


# --- 6. processing ------------------------------------------------------------------------

def processing_throughput(report, count):
    from bench import fixtures
    from files_app import processors
    from files_app.models import File, FileStatus
    from files_app.tasks import process_file

    files = fixtures.stored_text_files("bench-processing", count)
    started = time.perf_counter()
    for file in files:
        process_file.delay(str(file.pk))
    deadline = time.monotonic() + 300
    while File.objects.filter(pk__in=[f.pk for f in files], status=FileStatus.DONE).count() < count:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    reference_started = time.perf_counter()
    for file in files:
        with file.stored_file.open("rb") as stream:
            processors.run(processors.ProcessingSource(
                stream=stream, size=file.size, name=file.name, content_type="", chunk_size=MIB,
                report_progress=lambda fraction: None))
    reference = time.perf_counter() - reference_started
    report.add(f"processing {count} small files, one worker", count / elapsed, "files/s",
               reference=count / reference, note="ref: same processors in-process, no queue/DB")


def csv_processing(report, megabytes):
    script = Path(__file__).with_name("csv_memory.py")
    output = subprocess.run([sys.executable, str(script), "--megabytes", str(megabytes), "--json"],
                            check=True, capture_output=True, text=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    report.add(f"CSV {megabytes} MiB: rows/s", figures["rows"] / figures["seconds"], "rows/s",
               reference=figures["rows"] / figures["plain_seconds"],
               note="ref: bare csv.reader over the file")
    report.add(f"CSV {megabytes} MiB: worker peak RSS", figures["peak_rss_mib"], "MiB",
               target="≤ 128 MiB", passed=figures["peak_rss_mib"] <= 128)
