"""Hostile answers and subscribers (`make bench ONLY=answers`: reliability items 27 and 30).

Issue 24's files: zips of 100 entries named with 1,000 emoji each, uploaded through the
service and processed by its worker. Then, each on a fresh uvicorn:

- the amplified query, 16 copies of a page of the 8 zips' entries (15 aliases and the
  field): the web process's peak RSS growth (VmHWM), against one copy of the same page on
  another fresh server (ratio: what 15 more copies cost);
- a page of 50 such zips, one copy: over the answer budget (GRAPHQL_MAX_ANSWER_BYTES), the
  same figure against the same reference;
- 10 subscribers selecting 16 copies of the zips' entries that stop reading, while the 8
  zips' results go out 3 times: what the web process holds 60 s later (RSS growth), against
  the same 10 subscribers reading everything.
"""

import asyncio
import io
import json
import multiprocessing
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import psutil
import websockets

from bench import loads
from bench.stack import WebServer
from files_app.sizes import MIB

EMOJI = "\N{GRINNING FACE}"
SMALL_SET, LARGE_SET = 8, 50
ENTRIES = "result { ... on ArchiveResult { entries } }"
PAGE = "files(first: 100) { edges { node { id " + ENTRIES + " } } }"
ONE_COPY = "{ " + PAGE + " }"
SIXTEEN_COPIES = "{ " + PAGE + " " + " ".join(f"a{n}: {PAGE}" for n in range(15)) + " }"
WATCH_COPIES = (
    "subscription { fileUpdates { id "
    + ENTRIES
    + " "
    + " ".join(f"a{n}: {ENTRIES}" for n in range(15))
    + " } }"
)
STALLED = 10
ROUNDS = 3
HELD_SECONDS = 60  # the window measured: what stalled subscribers still hold after it
TARGET = 64 * MIB


def emoji_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(100):
            archive.writestr(f"{number:03d}{EMOJI * 1000}", b"")
    return buffer.getvalue()


def upload_zips(server, token: str, count: int) -> None:
    content = emoji_zip()
    for number in range(count):
        response = httpx.post(
            f"{server.url}/graphql/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **loads.multipart(f"emoji-{number}.zip", content),
        )
        loads.check_graphql(response)
    loads.wait_until_processed(timeout=300)


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def query_growth(work, token: str, query: str, name: str) -> tuple[int, int, str]:
    """(peak RSS growth, answer bytes, error code or OK) of one query on a fresh server,
    after a small query has warmed it up."""
    server = WebServer("uvicorn", work, name=name)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        httpx.post(f"{server.url}/graphql/", headers=headers, json={"query": "{ __typename }"})
        before = peak_rss(server.pid)
        answer = httpx.post(
            f"{server.url}/graphql/", headers=headers, json={"query": query}, timeout=300
        )
        grown = (peak_rss(server.pid) - before) * 1024
    finally:
        server.stop()
    return grown, len(answer.content), loads.graphql_refusal(answer) or "OK"


def amplified(report, work, small_token: str, large_token: str) -> None:
    one_grown, one_size, one_code = query_growth(work, small_token, ONE_COPY, "uvicorn-one-copy")
    for label, token, query, name in (
        (f"amplified query: 16 copies of {SMALL_SET} listings", small_token, SIXTEEN_COPIES, "16"),
        (f"one copy of {LARGE_SET} listings (over budget)", large_token, ONE_COPY, "50"),
    ):
        grown, size, code = query_growth(work, token, query, f"uvicorn-amplified-{name}")
        report.add(
            f"{label}: web peak RSS growth",
            grown / MIB,
            "MiB",
            reference=one_grown / MIB,
            target="≤ 64 MiB",
            passed=grown <= TARGET,
            note=f"answered {code}, {size / MIB:,.2f} MiB; ref: one copy of {SMALL_SET} "
            f"({one_code}, {one_size / MIB:,.2f} MiB)",
        )


# --- stalled subscribers, in a process of their own ---------------------------------------


async def hold_subscribers(conn, url: str, token: str, count: int, reads: bool) -> None:
    """Subscribe `count` times, read one event each (the parent's probe: all have joined),
    then read everything (`reads`) or nothing more: websockets stops taking frames off a
    socket past one queued message, and answers no ping."""
    sockets = []
    for _ in range(count):
        socket = await websockets.connect(
            url,
            subprotocols=[loads.PROTOCOL],
            ping_interval=None,
            max_size=None,
            max_queue=None if reads else 1,
        )
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        await socket.recv()
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": WATCH_COPIES}})
        )
        sockets.append(socket)
    await asyncio.gather(*(socket.recv() for socket in sockets))
    conn.send("joined")
    readers = [asyncio.create_task(read_all(socket)) for socket in sockets] if reads else []
    await asyncio.to_thread(conn.recv)
    for reader in readers:
        reader.cancel()
    for socket in sockets:
        socket.transport.abort()


async def read_all(socket) -> None:
    try:
        async for _ in socket:
            pass
    except websockets.ConnectionClosed:
        pass


def client_main(conn, url, token, count, reads):
    asyncio.run(hold_subscribers(conn, url, token, count, reads))


def held_connections(server) -> int:
    return sum(
        1
        for connection in psutil.Process(server.pid).net_connections(kind="tcp")
        if connection.laddr.port == server.port and connection.status == psutil.CONN_ESTABLISHED
    )


def subscribers_growth(work, owner, token: str, reads: bool) -> tuple[int, int, int]:
    """(RSS growth HELD_SECONDS after the events went out, the largest growth seen in that
    window, the subscribers' connections the server still held then)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from files_app import events
    from files_app.models import File
    from schema.live import channel

    server = WebServer("uvicorn", work, name=f"uvicorn-{'reading' if reads else 'stalled'}")
    context = multiprocessing.get_context("spawn")
    link, child = context.Pipe()
    process = context.Process(
        target=client_main, args=(child, server.ws_url, token, STALLED, reads), daemon=True
    )
    send = async_to_sync(get_channel_layer().group_send)
    group = channel.owner_group(owner.pk)

    def publish(state):
        send(group, {"type": channel.MESSAGE_TYPE, "file": state})

    try:
        before = psutil.Process(server.pid).memory_info().rss
        process.start()
        probe = {**events.file_state(File.objects.filter(owner=owner).first()), "version": 10**6}
        probe.update(id=str(uuid.uuid4()), kind="OTHER", result={})
        deadline = time.monotonic() + 120
        while not link.poll(0.2):  # until every subscriber has joined and read one event
            if time.monotonic() > deadline:
                raise TimeoutError("the subscribers never received an event")
            probe["version"] += 1
            publish(dict(probe))
        link.recv()
        states = [events.file_state(file) for file in File.objects.filter(owner=owner)]
        for round_number in range(1, ROUNDS + 1):
            for state in states:
                publish({**state, "version": state["version"] + round_number})
        most, ended = 0, time.monotonic() + HELD_SECONDS
        while time.monotonic() < ended:  # the window measured
            most = max(most, psutil.Process(server.pid).memory_info().rss - before)
            time.sleep(0.5)
        held = psutil.Process(server.pid).memory_info().rss - before
        connections = held_connections(server)
        link.send("stop")
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
        server.stop()
    return held, most, connections


def stalled_subscribers(report, work, owner, token: str) -> None:
    reading, reading_most, _ = subscribers_growth(work, owner, token, reads=True)
    held, most, connections = subscribers_growth(work, owner, token, reads=False)
    report.add(
        f"{STALLED} stalled subscribers (16 copies of a listing): RSS after {HELD_SECONDS} s",
        held / MIB,
        "MiB",
        reference=reading / MIB,
        target="≤ 64 MiB",
        passed=held <= TARGET,
        note=f"ref: the same subscribers reading; {connections} of {STALLED} still connected; "
        f"at most +{most / MIB:,.0f} MiB in the window (ref +{reading_most / MIB:,.0f} MiB); "
        f"{ROUNDS} × {SMALL_SET} events",
    )


def answers(report, work) -> None:
    from bench import fixtures

    small_owner, small_token = fixtures.user_with_token("bench-amplified")
    _, large_token = fixtures.user_with_token("bench-amplified-large")
    server = WebServer("uvicorn", work, name="uvicorn-zips")
    try:
        upload_zips(server, small_token, SMALL_SET)
        upload_zips(server, large_token, LARGE_SET)
    finally:
        server.stop()
    amplified(report, work, small_token, large_token)
    stalled_subscribers(report, work, small_owner, small_token)
