"""granian against uvicorn (`make bench ONLY=granian`): the same app, the same clients, the
same worker, one server after the other in the same run; each row is granian's figure with
uvicorn's as its reference, so the ratio is granian/uvicorn.

Rows: small uploads (16 clients), `{ __typename }` (16 clients: the server and the GraphQL
view, nothing else) and `files(first:100)` (8 clients) over HTTP, then N
`fileUpdates` subscribers held by client processes of their own (bench/watchers.py's), two
uploads: upload → DONE at every subscriber (p50, p99) and web CPU per event delivered.
granian serves from a worker process of its own (its parent only supervises), so its CPU and
RSS are read from that child. uvicorn runs with production's options, including our
websocket protocol (schema/live/protocol.py); granian cannot take one, so what it is measured
without is said in docs/benchmarks.md.
"""

import asyncio
import collections
import math

import psutil

from bench import loads, watchers
from bench.stack import WebServer

SERVERS = ("uvicorn", "granian")
QUICK_COUNTS = (1000,)
FULL_COUNTS = (1000, 2000)
MEASURED_ROUNDS = 3
SETTLE_SECONDS = 30


def settle(stuck: list[str], where: str) -> None:
    """Let the worker drain before the next row, for at most SETTLE_SECONDS: a file whose task
    failed (a database error) stays PENDING until the recovery sweep (not run here), and
    must not stop the comparison; it is counted and said in the report instead."""
    try:
        loads.wait_until_processed(timeout=SETTLE_SECONDS)
    except TimeoutError:
        stuck.append(where)


class TolerantApi(loads.ServiceApi):
    """The service's API, counting answers refused as SERVICE_UNAVAILABLE (a database error
    while storing) instead of stopping the run:
    both servers see them, and they are said in the report."""

    def __init__(self, *args, refused: collections.Counter, **kwargs):
        super().__init__(*args, **kwargs)
        self.refused, self.kind = refused, args[0].kind

    def check(self, response) -> None:
        if loads.graphql_refusal(response) == "SERVICE_UNAVAILABLE":
            self.refused[self.kind] += 1
            return
        super().check(response)


def serving_pid(server) -> int:
    """The process that runs the app: uvicorn itself, granian's one worker."""
    if server.kind != "granian":
        return server.pid
    children = psutil.Process(server.pid).children()
    return children[0].pid if children else server.pid


def http_rows(server, token, list_token, worker, seconds, stuck, refused) -> dict:
    service = TolerantApi(server, token, worker, refused=refused)
    listing = TolerantApi(server, list_token, worker, refused=refused)
    uploads = asyncio.run(
        loads.closed_loop(service, lambda: service.upload("small.txt", loads.SMALL_FILE), seconds)
    )
    settle(stuck, f"{server.kind} uploads")
    typename = asyncio.run(
        loads.closed_loop(service, lambda: ("POST", "/graphql/", {"json": loads.TYPENAME}), seconds)
    )
    lists = asyncio.run(loads.closed_loop(listing, listing.listing, seconds, loads.LIST_CLIENTS))
    return {"uploads": uploads, "typename": typename, "list": lists}


def watcher_rows(server, token, count, stuck) -> dict:
    timeout = max(60.0, count / 20)
    pid = serving_pid(server)
    clients = watchers.Clients(server.ws_url, token, count, timeout=timeout * 5)
    try:
        warm, _ = watchers.upload_round(server, token, clients, timeout)
        before_rss = psutil.Process(pid).memory_info().rss
        cpu = loads.cpu_seconds(pid, children=False)
        latencies, events = [], 0
        for _ in range(MEASURED_ROUNDS):
            took, got = watchers.upload_round(server, token, clients, timeout)
            latencies += took
            events += got
        cpu_per_event = (loads.cpu_seconds(pid, children=False) - cpu) / max(events, 1)
        return {
            "p50": loads.percentile(latencies, 0.5) if latencies else math.inf,
            "p99": loads.percentile(latencies, 0.99) if latencies else math.inf,
            "cpu_per_event": cpu_per_event,
            "missing": MEASURED_ROUNDS * count - len(latencies) + (count - len(warm)),
            "closed": dict(clients.closed),
            "rss": before_rss,
        }
    finally:
        clients.stop()
        settle(stuck, f"{server.kind} {count} subscribers")


def granian(report, work, sizes, quick, fixtures, worker, counts=None):
    watchers.raise_file_limit()
    counts = counts or (QUICK_COUNTS if quick else FULL_COUNTS)
    _, token = fixtures.user_with_token("bench-granian")
    fixtures.bulk_files("bench-granian-list", sizes["reference_rows"])
    _, list_token = fixtures.user_with_token("bench-granian-list")
    results: dict[str, dict] = {}
    stuck: list[str] = []
    refused: collections.Counter = collections.Counter()
    for kind in SERVERS:
        env = {"WEBSOCKET_MAX_CONNECTIONS_PER_USER": str(max(counts) + 100)}
        server = WebServer(kind, work, name=f"{kind}-versus", env=env)
        try:
            results[kind] = http_rows(
                server, token, list_token, worker, sizes["small_seconds"], stuck, refused
            )
            for count in counts:
                results[kind][count] = watcher_rows(server, token, count, stuck)
        finally:
            server.stop()
    ours, theirs = results["granian"], results["uvicorn"]
    for key, label, unit in (
        ("uploads", f"small uploads, {loads.CLIENTS} clients", "uploads/s"),
        ("typename", f"{{ __typename }}, {loads.CLIENTS} clients", "req/s"),
        ("list", f"files(first: {loads.LIST_PAGE}), {loads.LIST_CLIENTS} clients", "req/s"),
    ):
        run, ref = ours[key], theirs[key]
        report.add(
            f"granian: {label}: rate",
            run.rate,
            unit,
            reference=ref.rate,
            note=f"ref: uvicorn; files left PENDING after: {stuck or 'none'}; "
            f"SERVICE_UNAVAILABLE answers: {dict(refused) or 'none'}; "
            f"p50 {run.percentile(0.5):.1f} ms, ref "
            f"{ref.percentile(0.5):.1f} ms; CPU client/web/worker {run.cpu_note()}, "
            f"ref {ref.cpu_note()}",
        )
    for count in counts:
        run, ref = ours[count], theirs[count]
        closed = f"closed {run['closed'] or 'none'}, ref {ref['closed'] or 'none'}"
        for key, what in (("p50", "p50"), ("p99", "p99")):
            report.add(
                f"granian: {count:,} subscribers: upload → DONE at all, {what}",
                run[key] * 1000,
                "ms",
                reference=ref[key] * 1000,
                note=f"ref: uvicorn; {MEASURED_ROUNDS} uploads; DONE missing "
                f"{run['missing']}, ref {ref['missing']}; {closed}",
            )
        report.add(
            f"granian: {count:,} subscribers: web CPU per event",
            run["cpu_per_event"] * 1e6,
            "µs",
            reference=ref["cpu_per_event"] * 1e6,
            note=f"ref: uvicorn; web RSS {run['rss'] / 2**20:,.0f} MiB, ref "
            f"{ref['rss'] / 2**20:,.0f} MiB",
        )
