"""The fan-out bench (`make bench ONLY=watchers`): N `fileUpdates` subscribers on one web
process, and one real upload through the real endpoint, processed by the real worker.

The subscribers are graphql-transport-ws clients with a bearer token, all the uploader's
own connections (its per-user cap is lifted for the bench), held by client processes of
their own (CLIENT_SOCKETS each) so their CPU is not counted against the web process; they
still share the machine's cores with it. A client offers permessage-deflate, as browsers do.

Per N, on a fresh uvicorn: the web RSS growth per subscription once all have seen one
upload's DONE (which also proves each has joined its group), against the same clients held
by the bare ASGI app (bench/reference/bare_asgi.py) on the same server; upload → DONE at
every subscriber, p50 against one subscriber alone and p99 against p50; and web CPU per
event delivered. Then a subscriber that stops reading, its socket filled: the others' p99
with it against without it.
"""

import asyncio
import collections
import contextlib
import fcntl
import json
import math
import multiprocessing
import resource
import struct
import termios
import time
import uuid

import httpx
import psutil
import websockets

from bench import loads
from bench.stack import BARE_APP, WebServer
from files_app.sizes import KIB, MIB

FULL_COUNTS = (1000, 2000, 5000, 10_000)
QUICK_COUNTS = (1000,)
# p99 targets (docs/benchmarks.md) (≤ 300 ms at 2,000 holds for fewer too).
P99_TARGETS = {1000: 0.300, 2000: 0.300, 10_000: 1.0}
RSS_TARGET = 32 * KIB
SLOW_TARGET = 0.050
CLIENT_SOCKETS = 2500
MEASURED_ROUNDS = 2
WARM_UPLOADS = 3
ALONE_ROUNDS = 3
# One WEBSOCKET_REVALIDATE_SECONDS (30 s): each connection's periodic checks fall in it once.
IDLE_SECONDS = 30
FILE_LIMIT = 65536
# What the slow subscriber is sent before the measured upload: enough to fill its socket
# buffers on both sides and the server's write buffer (a few MiB on loopback).
SLOW_FILL_EVENTS = 256
SLOW_FILL_NAME = 64 * KIB
SLOW_QUERY = "subscription { fileUpdates { id name status version } }"


def raise_file_limit() -> int:
    """Each subscription is a socket in the web process and one in a client: lift the soft
    limit to the hard one (children inherit it). Beyond the hard limit: `ulimit -n 65536`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILE_LIMIT if hard == resource.RLIM_INFINITY else min(FILE_LIMIT, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


# --- the client processes -----------------------------------------------------------------


async def open_subscriber(url, token, query=loads.SUBSCRIBE, **options):
    socket = await websockets.connect(
        url, subprotocols=[loads.PROTOCOL], open_timeout=120, ping_interval=None, **options
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return socket


async def serve_subscribers(conn, url, token, count):
    done: dict[str, dict[int, float]] = {}
    received = [0]
    closed: collections.Counter = collections.Counter()  # close code -> sockets

    async def read(socket, index):
        try:
            async for raw in socket:
                received[0] += 1
                if "DONE" in raw:
                    event = json.loads(raw)["payload"]["data"]["fileUpdates"]
                    if event["status"] == "DONE":
                        done.setdefault(event["id"], {})[index] = time.perf_counter()
        except websockets.ConnectionClosed:
            pass
        closed[socket.close_code] += 1  # a subscriber lost: by whom, and why

    sockets, readers = [], []
    for start in range(0, count, loads.CONNECT_BATCH):
        batch = range(start, min(count, start + loads.CONNECT_BATCH))
        opened = await asyncio.gather(*(open_subscriber(url, token) for _ in batch))
        sockets += opened
        readers += [asyncio.create_task(read(s, i)) for i, s in zip(batch, opened)]
    conn.send(("ready", len(sockets)))
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "wait":
            file_id, timeout = args
            deadline = time.monotonic() + timeout
            while len(done.get(file_id, ())) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            conn.send((list(done.get(file_id, {}).values()), received[0], dict(closed)))
        else:
            await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
            for reader in readers:
                reader.cancel()
            conn.send(("stopped",))
            return


async def stall(conn, url, token, reads=False):
    """Subscribe, read the first event (so the parent knows it has joined), then never read
    again: websockets stops taking frames off the socket past one queued message. With
    `reads`, the reference: the same subscriber reading everything it is sent."""
    socket = await open_subscriber(url, token, SLOW_QUERY, max_queue=None if reads else 1)
    await socket.recv()
    conn.send(("stalled",))
    reader = asyncio.create_task(read_all(socket)) if reads else None
    await asyncio.to_thread(conn.recv)
    unread = fcntl.ioctl(
        socket.transport.get_extra_info("socket").fileno(), termios.FIONREAD, struct.pack("i", 0)
    )
    conn.send(("unread", struct.unpack("i", unread)[0]))  # proof that it was backed up
    if reader is not None:
        reader.cancel()
    socket.transport.abort()


async def read_all(socket) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in socket:
            pass


def client_main(conn, url, token, count, slow=False, reads=False):
    asyncio.run(
        stall(conn, url, token, reads) if slow else serve_subscribers(conn, url, token, count)
    )


class Clients:
    """`count` subscribers over as many processes as CLIENT_SOCKETS asks."""

    def __init__(self, url, token, count, timeout=600):
        context = multiprocessing.get_context("spawn")
        self.count, self.links, self.processes = count, [], []
        shares = [CLIENT_SOCKETS] * (count // CLIENT_SOCKETS) + (
            [count % CLIENT_SOCKETS] if count % CLIENT_SOCKETS else []
        )
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(
                target=client_main, args=(child, url, token, share), daemon=True
            )
            process.start()
            self.links.append(parent)
            self.processes.append(process)
        for link in self.links:
            if not link.poll(timeout):
                self.stop()
                raise TimeoutError(f"subscribers not connected after {timeout} s")
            link.recv()

    def wait_done(self, file_id, timeout) -> tuple[list[float], int]:
        """When each subscriber saw `file_id` DONE, and how many events they got in all;
        the close codes of the sockets that ended are kept in `self.closed`."""
        for link in self.links:
            link.send(("wait", file_id, timeout))
        times, events = [], 0
        self.closed = collections.Counter()
        for link in self.links:
            seen, received, closed = link.recv()
            times += seen
            events += received
            self.closed.update(closed)
        return times, events

    def stop(self) -> None:
        for link, process in zip(self.links, self.processes):
            if process.is_alive():
                link.send(("stop",))
                if link.poll(30):
                    link.recv()
            process.join(10)
            if process.is_alive():
                process.kill()


# --- the measurements ---------------------------------------------------------------------


def rss(pid) -> int:
    return psutil.Process(pid).memory_info().rss


def upload(server, token) -> tuple[str, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{server.url}/graphql/",
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        **loads.multipart("watched.txt", loads.SMALL_FILE),
    )
    loads.check_graphql(response)
    return response.json()["data"]["uploadFile"]["id"], started


def upload_round(server, token, clients, timeout) -> tuple[list[float], int]:
    """One upload: each subscriber's upload → DONE, and the events they got since the
    last round."""
    _, before = clients.wait_done("", 0)
    file_id, started = upload(server, token)
    times, events = clients.wait_done(file_id, timeout)
    return [at - started for at in times], events - before


def held_growth(server, token, count) -> int:
    """RSS growth of `server` holding `count` subscribers (after one warm connection)."""
    warm = Clients(server.ws_url, token, 1)
    warm.stop()
    before = rss(server.pid)
    clients = Clients(server.ws_url, token, count)
    try:
        return rss(server.pid) - before
    finally:
        clients.stop()


def measure(report, work, count, token, staff_token, slow):
    timeout = max(60.0, count / 20)
    bare = WebServer("uvicorn", work, BARE_APP, name=f"uvicorn-bare-ws-{count}", ready_path="/")
    try:
        bare_growth = held_growth(bare, token, count)
    finally:
        bare.stop()
    server = WebServer(
        "uvicorn",
        work,
        name=f"uvicorn-watchers-{count}",
        env={"WEBSOCKET_MAX_CONNECTIONS_PER_USER": str(count + 100)},
    )
    clients = None
    try:
        alone_clients = Clients(server.ws_url, token, 1)
        alone = [
            upload_round(server, token, alone_clients, 60)[0][0] for _ in range(ALONE_ROUNDS + 1)
        ][1:]  # the first warms the server up
        alone_clients.stop()
        before = rss(server.pid)
        connect_started = time.perf_counter()
        clients = Clients(server.ws_url, token, count, timeout=timeout * 5)
        connect_seconds = time.perf_counter() - connect_started
        # Every subscription has joined once a DONE reached it: a client sends `subscribe`
        # and goes on without an answer, so the first upload may come before the server has
        # taken the last subscriptions (at 10,000, not all of them: then upload again).
        warm, _ = upload_round(server, token, clients, timeout)
        first_warm, warm_uploads = len(warm), 1
        while len(warm) < count and warm_uploads < WARM_UPLOADS:
            warm, _ = upload_round(server, token, clients, timeout)
            warm_uploads += 1
        cpu = loads.cpu_seconds(server.pid, children=False)
        time.sleep(IDLE_SECONDS)  # the idle period measured, not a synchronisation
        idle_cores = (loads.cpu_seconds(server.pid, children=False) - cpu) / IDLE_SECONDS
        growth = rss(server.pid) - before
        latencies, events = [], 0
        cpu = loads.cpu_seconds(server.pid, children=False)
        for _ in range(MEASURED_ROUNDS):
            took, got = upload_round(server, token, clients, timeout)
            latencies += took
            events += got
        cpu_per_event = (loads.cpu_seconds(server.pid, children=False) - cpu) / max(events, 1)
        dropped = MEASURED_ROUNDS * count - len(latencies) + (count - len(warm))
        warm_note = (
            f"warm-up: {warm_uploads} uploads, the first reached {first_warm:,}"
            if warm_uploads > 1
            else "warm-up: 1 upload reached all"
        )
        p50 = loads.percentile(latencies, 0.5) if latencies else math.inf
        p99 = loads.percentile(latencies, 0.99) if latencies else math.inf
        label = f"{count:,} subscribers"
        report.add(
            f"{label}: web RSS per subscription",
            growth / count / KIB,
            "KiB",
            reference=bare_growth / count / KIB,
            target="≤ 32 KiB",
            passed=growth / count <= RSS_TARGET,
            note=f"ref: the bare ASGI app holding them; +{growth / MIB:,.0f} MiB in "
            f"all; connected in {connect_seconds:,.0f} s",
        )
        target = P99_TARGETS.get(count)
        report.add(
            f"{label}: upload → DONE at all, p99",
            p99 * 1000,
            "ms",
            reference=p50 * 1000,
            target=f"≤ {target * 1000:,.0f} ms, 0 lost" if target else "0 lost",
            passed=(p99 <= target and dropped == 0) if target else dropped == 0,
            note=f"ref: p50; {MEASURED_ROUNDS} uploads; {dropped} DONE missing "
            f"after {timeout:.0f} s; sockets closed (by code): "
            f"{dict(clients.closed) or 'none'}; {warm_note}",
        )
        report.add(
            f"{label}: upload → DONE, p50",
            p50 * 1000,
            "ms",
            reference=sorted(alone)[len(alone) // 2] * 1000,
            note="ref: one subscriber alone, same server",
        )
        report.add(
            f"{label}: web CPU per event delivered",
            cpu_per_event * 1e6,
            "µs",
            note=f"{events / max(1, MEASURED_ROUNDS * count):.1f} events per upload per "
            f"subscriber; idle web CPU {idle_cores * 100:.0f}% of a core",
        )
        if slow:
            slow_subscriber(report, server, token, staff_token, clients, timeout)
    finally:
        if clients:
            clients.stop()
        server.stop()


def slow_subscriber(report, server, token, staff_token, clients, timeout):
    """A staff subscriber (it sees every file) that stops reading, its socket filled with
    SLOW_FILL_EVENTS fat events; then one upload: the others' p99 with it, against the same
    run with the same subscriber reading. The reference carries the same fill, so the row
    shows what a socket not read costs the others, not what the fill's 16 MiB cost the hub
    (it is received and encoded ahead of the upload's events either way)."""
    p99_reading, _, _ = filled_round(server, token, staff_token, clients, timeout, reads=True)
    p99, missing, unread = filled_round(server, token, staff_token, clients, timeout, reads=False)
    report.add(
        f"{clients.count:,} subscribers + 1 not reading: p99",
        p99 * 1000,
        "ms",
        reference=p99_reading * 1000,
        target="≤ ref + 50 ms",
        passed=p99 - p99_reading <= SLOW_TARGET and missing == 0,
        note=f"ref: the same subscriber reading; {SLOW_FILL_EVENTS} × "
        f"{SLOW_FILL_NAME // KIB} KiB sent to it first, {unread / MIB:.1f} MiB left "
        f"unread in its socket; {missing} DONE missing",
    )


def filled_round(server, token, staff_token, clients, timeout, reads):
    """One upload after SLOW_FILL_EVENTS fat events to a staff subscriber that reads them or
    not: (the others' p99, DONEs missing, bytes left unread in its socket)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from schema.live import channel

    context = multiprocessing.get_context("spawn")
    link, child = context.Pipe()
    process = context.Process(
        target=client_main,
        args=(child, server.ws_url, staff_token, 1),
        kwargs={"slow": True, "reads": reads},
        daemon=True,
    )
    process.start()
    try:
        state = {
            "id": str(uuid.uuid4()),
            "name": "probe",
            "size": 1,
            "content_type": "",
            "kind": "TEXT",
            "sha256": "",
            "status": "PENDING",
            "progress": 0.0,
            "error": "",
            "version": 1,
            "owner_id": 0,
            "result": {},
            "thumbnail": "",
            "uploaded_at": None,
            "processed_at": None,
        }
        layer = get_channel_layer()
        send = async_to_sync(layer.group_send)
        deadline = time.monotonic() + 60
        while not link.poll(0.2):  # until it has joined and read one event
            if time.monotonic() > deadline:
                raise TimeoutError("the slow subscriber never received an event")
            state["version"] += 1
            send(channel.ALL_FILES_GROUP, {"type": channel.MESSAGE_TYPE, "file": dict(state)})
        link.recv()
        fat = "x" * SLOW_FILL_NAME
        for _ in range(SLOW_FILL_EVENTS):
            state["version"] += 1
            send(
                channel.ALL_FILES_GROUP,
                {"type": channel.MESSAGE_TYPE, "file": {**state, "name": fat}},
            )
        latencies, _ = upload_round(server, token, clients, timeout)
        link.send(("stop",))
        unread = link.recv()[1] if link.poll(30) else 0
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    p99 = loads.percentile(latencies, 0.99) if latencies else math.inf
    return p99, clients.count - len(latencies), unread


def watchers(report, work, quick, counts=None):
    raise_file_limit()
    from bench import fixtures

    _, token = fixtures.user_with_token("bench-watch")
    staff, staff_token = fixtures.user_with_token("bench-watch-staff")
    staff.is_staff = staff.is_superuser = True  # a superuser holds view_file
    staff.save(update_fields=["is_staff", "is_superuser"])
    counts = counts or (QUICK_COUNTS if quick else FULL_COUNTS)
    for count in counts:
        measure(report, work, count, token, staff_token, slow=count == counts[0])
        loads.wait_until_processed(timeout=300)
