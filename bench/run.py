"""`make bench`: speed and memory of every hot path, on the real stack, against targets.

Each figure is printed with a reference measured in the same run on the same machine (so
ratios, not absolute numbers, carry across machines), its target, and whether it met it.
The main reference is the simple design (bench/reference: plain Django under gunicorn with
one sync worker, a Celery worker with --pool=solo), driven by the same load client; the
big-upload reference is a bare ASGI app (bench/reference/bare_asgi.py) on the same server.
`--quick` (make bench QUICK=1) shrinks every load to finish in a few minutes; `--only`
runs some parts (`latency`: upload → DONE alone, the part of `compare` a worker change
moves). Results are also written as JSON (default var/bench-results.json). Never part of
the test suite.
"""

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    answers,
    granian,
    growth,
    in_flight,
    loads,
    publish,
    recovered,
    s3,
    stalled,
    watchers,
)
from bench.stack import (
    BARE_APP,
    BASE_DIR,
    SERVICE_APP,
    ReferenceStack,
    WebServer,
    Worker,
    configure_environment,
    setup_django,
)
from files_app.sizes import GIB, MIB

FULL = {
    "big_upload": GIB,
    "daphne_upload": 200 * MIB,
    "refused_upload": GIB,
    "upload_limit": 64 * MIB,
    "small_seconds": 20,
    "latency_seconds": 10,
    "list_seconds": 10,
    "reference_rows": 1000,
    "rows": 100_000,
    "query_requests": 300,
    "push_files": 300,
    "small_files": 500,
    "publish_events": 2000,
    "csv_mib": 1024,
    "s3_upload": 512 * MIB,
    "growth_rows": 1_000_000,
}
QUICK = {
    "big_upload": 256 * MIB,
    "daphne_upload": 64 * MIB,
    "refused_upload": GIB,
    "upload_limit": 64 * MIB,
    "small_seconds": 5,
    "latency_seconds": 3,
    "list_seconds": 3,
    "reference_rows": 1000,
    "rows": 20_000,
    "query_requests": 100,
    "push_files": 50,
    "small_files": 100,
    "publish_events": 500,
    "csv_mib": 64,
    "s3_upload": 256 * MIB,
    "growth_rows": 100_000,
}
BIG_UPLOAD_ROUNDS = 3
PARTS = (
    "big",
    "early",
    "stalled",
    "quota",
    "s3",
    "compare",
    "latency",
    "query",
    "watchers",
    "answers",
    "processing",
    "publish",
    "recovered",
    "csv",
    "growth",
)
# Parts run only when asked for by name (--only): granian against uvicorn is a comparison of
# servers, not a target of ours.
OPT_IN = ("granian",)
# Bytes that may still be in flight (socket buffers) when a refusal is sent.
IN_FLIGHT_ALLOWANCE = 16 * MIB


def size_label(size: int) -> str:
    return f"{size / GIB:g} GiB" if size >= GIB else f"{size / MIB:g} MiB"


class Report:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, metric, figure, unit, *, reference=None, target=None, passed=None, note=""):
        ratio = (figure / reference) if reference else None
        finite = math.isfinite(figure)
        self.rows.append(
            {
                "metric": metric,
                "figure": round(figure, 3) if finite else None,
                "unit": unit,
                "reference": round(reference, 3) if reference is not None else None,
                "ratio": round(ratio, 3) if ratio is not None else None,
                "target": target,
                "pass": passed,
                "note": note,
            }
        )
        mark = {True: "PASS", False: "MISS", None: ""}[passed]
        ref = f"{reference:,.2f}" if reference is not None else "—"
        rat = f"{ratio:.2f}" if ratio is not None else "—"
        print(
            f"  {metric:<54} {figure:>10,.2f} {unit:<9} ref {ref:>10} ratio {rat:>6}  "
            f"{target or '':<14} {mark:<4} {note}",
            flush=True,
        )


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "database": os.environ["DATABASE_URL"].split(":")[0],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def per_round(mib: float, times: list[float]) -> str:
    return "/".join(f"{mib / each:,.0f}" for each in times)


def bench_big_uploads(report, work, sizes, token):
    """The service against the bare ASGI app on the same server: same client, same bytes.
    BIG_UPLOAD_ROUNDS rounds, the two taking turns, each side's best kept (the first upload
    into a fresh server and page cache is often the slower)."""
    headers = {"Authorization": f"Bearer {token}"}
    media = work / "media"
    for kind, size in (("uvicorn", sizes["big_upload"]), ("daphne", sizes["daphne_upload"])):
        source = loads.make_file(work / f"big-{kind}.bin", size)
        copy_seconds = loads.timed_copy(source, media / f"copy-{kind}.bin")
        bare = server = None
        seconds, growth = {"bare": [], "service": []}, {"bare": [], "service": []}
        try:
            bare = WebServer(kind, work, BARE_APP, name=f"{kind}-bare", ready_path="/")
            server = WebServer(kind, work, name=f"{kind}-service")
            sides = {
                "bare": (bare, {}, "/", loads.check_bare),
                "service": (server, headers, "/graphql/", loads.check_graphql),
            }
            for round_number in range(BIG_UPLOAD_ROUNDS):
                # Taking turns at going first; every upload starts from the same state: no
                # processing running, nothing left in MEDIA_ROOT, no dirty pages (os.sync).
                for side in sorted(sides, reverse=bool(round_number % 2)):
                    target, side_headers, path, check = sides[side]
                    took, grew = loads.upload_with_rss(target, side_headers, path, source, check)
                    seconds[side].append(took)
                    growth[side].append(grew)
                    loads.wait_until_processed(timeout=600)
                    loads.empty_directory(media)
        finally:
            for each in (bare, server):
                if each:
                    each.stop()
            source.unlink()
        mib = size / MIB
        report.add(
            f"big upload {size_label(size)} via {kind}: throughput",
            mib / min(seconds["service"]),
            "MiB/s",
            reference=mib / min(seconds["bare"]),
            target="≥ 0.9 × ref",
            passed=min(seconds["bare"]) / min(seconds["service"]) >= 0.9,
            note=f"ref: bare ASGI app on {kind}; best of {BIG_UPLOAD_ROUNDS}: "
            f"{per_round(mib, seconds['service'])}, "
            f"ref {per_round(mib, seconds['bare'])}; "
            f"cp {mib / copy_seconds:,.0f}",
        )
        report.add(
            f"big upload {size_label(size)} via {kind}: server RSS growth",
            max(growth["service"]) / MIB,
            "MiB",
            reference=max(growth["bare"]) / MIB,
            target="≤ 64 MiB",
            passed=max(growth["service"]) <= 64 * MIB,
            note="ref: the bare app's"
            + ("; daphne buffers whole bodies" if kind == "daphne" else ""),
        )


def bench_early_answers(report, work, sizes, token):
    """A request that will be refused must be refused before its body is read (anonymous),
    or as soon as the limit is passed (too large), not after the whole body arrived."""
    size, limit = sizes["refused_upload"], sizes["upload_limit"]
    media = work / "media"
    server = WebServer("uvicorn", work, name="uvicorn-anonymous")
    try:
        answer, chars, block_bytes, growth = loads.early_answer(server, media, {}, size)
    finally:
        server.stop()
    refusal = loads.graphql_refusal(answer.body) if answer.status else None
    summary = f"HTTP {answer.status} {refusal or 'ACCEPTED'}" if answer.status else "no answer"
    sent = f"{answer.sent / MIB:,.1f} of {size_label(size)} sent"
    milliseconds = answer.seconds * 1000 if answer.seconds is not None else float("nan")
    report.add(
        f"anonymous {size_label(size)} upload: answered after",
        milliseconds,
        "ms",
        target="≤ 50 ms",
        passed=bool(answer.seconds is not None and refusal and answer.seconds <= 0.050),
        note=f"{summary}; {sent}",
    )
    written = max(chars, block_bytes, growth)
    report.add(
        "anonymous upload: bytes the server wrote",
        written / MIB,
        "MiB",
        target="< 1 MiB",
        passed=written < MIB,
        note=f"write_chars {chars / MIB:,.1f} MiB, write_bytes {block_bytes / MIB:,.1f} "
        f"MiB, MEDIA_ROOT {growth / MIB:+,.1f} MiB",
    )

    server = WebServer("uvicorn", work, env={"MAX_UPLOAD_SIZE": str(limit)}, name="uvicorn-limited")
    try:
        answer, *_ = loads.early_answer(server, media, {"Authorization": f"Bearer {token}"}, size)
    finally:
        server.stop()
    refusal = loads.graphql_refusal(answer.body) if answer.status else None
    summary = f"HTTP {answer.status} {refusal or 'ACCEPTED'}" if answer.status else "no answer"
    after = f" after {answer.seconds * 1000:,.0f} ms" if answer.seconds is not None else ""
    report.add(
        f"upload {size_label(size)} > MAX_UPLOAD_SIZE {size_label(limit)}: sent at answer",
        answer.sent / MIB,
        "MiB",
        reference=limit / MIB,
        target=f"≤ {(limit + IN_FLIGHT_ALLOWANCE) / MIB:.0f} MiB",
        passed=bool(answer.status and refusal and answer.sent <= limit + IN_FLIGHT_ALLOWANCE),
        note=f"{summary}{after}; ref: the limit",
    )


def bench_side_by_side(report, work, sizes, parts, fixtures, worker):
    """The service and the reference, one after the other, under the same client."""
    compare = bool(parts & {"compare", "latency"})
    reference_stack = ReferenceStack(work, sizes["reference_rows"]) if compare else None
    server = None
    try:
        server = WebServer("uvicorn", work, name="uvicorn-service")
        if reference_stack:
            reference = loads.ReferenceApi(reference_stack)
            _, token = fixtures.user_with_token("bench-small")
            service = loads.ServiceApi(server, token, worker)
        if "compare" in parts:
            fixtures.bulk_files("bench-list", sizes["reference_rows"])
            _, list_token = fixtures.user_with_token("bench-list")
            loads.listing(
                report,
                loads.ServiceApi(server, list_token, worker),
                reference,
                sizes["list_seconds"],
                sizes["reference_rows"],
            )
            loads.one_client_uploads(report, service, reference, sizes["latency_seconds"])
            loads.small_uploads(report, service, reference, sizes["small_seconds"])
        if reference_stack:
            loads.push_latency(report, service, reference, sizes["push_files"])
        if "query" in parts:
            fixtures.bulk_files("bench-query", sizes["rows"])
            _, query_token = fixtures.user_with_token("bench-query")
            loads.files_query(report, server, query_token, sizes["query_requests"])
    finally:
        if server:
            server.stop()
        if reference_stack:
            reference_stack.stop()


def run(args) -> list[dict]:
    sizes = QUICK if args.quick else FULL
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    if unknown := parts - set(PARTS) - set(OPT_IN):
        choices = ", ".join(PARTS + OPT_IN)
        raise SystemExit(
            f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose from {choices}"
        )
    work = configure_environment()
    setup_django()
    from bench import fixtures

    report = Report()
    print(f"Benchmark ({'quick' if args.quick else 'full'}) on {machine()}", flush=True)
    print(
        f"  service: {SERVICE_APP}; reference: bench/reference (gunicorn 1 sync worker, "
        f"celery --pool=solo); big-upload reference: {BARE_APP}",
        flush=True,
    )
    print(
        f"  {'metric':<54} {'figure':>10} {'unit':<9} {'reference':>14} {'ratio':>12}  "
        f"{'target':<14}",
        flush=True,
    )
    try:
        fixtures.reset()
        worker = Worker(work, concurrency=1)
        try:
            if "big" in parts:
                _, token = fixtures.user_with_token("bench-big")
                bench_big_uploads(report, work, sizes, token)
            if "early" in parts:
                _, token = fixtures.user_with_token("bench-limit")
                bench_early_answers(report, work, sizes, token)
            if "stalled" in parts:
                _, token = fixtures.user_with_token("bench-stalled")
                stalled.stalled_bodies(report, work, token, timeout=10 if args.quick else 30)
            if "quota" in parts:
                _, token = fixtures.user_with_token("bench-quota")
                in_flight.bytes_in_flight(report, work, token)
                loads.wait_until_processed(timeout=300)
            if "s3" in parts:
                _, token = fixtures.user_with_token("bench-s3")
                s3.bench_s3(report, work, sizes["s3_upload"], token)
            loads.wait_until_processed(timeout=300)
            if parts & {"compare", "latency", "query"}:
                bench_side_by_side(report, work, sizes, parts, fixtures, worker)
            if "granian" in parts:
                granian.granian(report, work, sizes, args.quick, fixtures, worker, args.watchers)
            if "watchers" in parts:
                watchers.watchers(report, work, args.quick, args.watchers)
            if "answers" in parts:
                answers.answers(report, work)
            if "processing" in parts:
                loads.processing_throughput(report, sizes["small_files"], worker)
            if "publish" in parts:
                publish.publish_cost(report, sizes["publish_events"])
                publish.hub_receive_cost(report, sizes["publish_events"])
            if "growth" in parts:
                growth.growth(report, work, growth.SMALL, sizes["growth_rows"])
        finally:
            worker.stop()
        if "recovered" in parts:
            recovered.killed_worker(report, work)
        if "csv" in parts:
            loads.csv_processing(report, sizes["csv_mib"])
    except BaseException:
        print(f"\nStopped; the servers' logs are in {work}", flush=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return report.rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", default="", help=f"comma-separated parts: {', '.join(PARTS + OPT_IN)}"
    )
    parser.add_argument("--json", default=str(BASE_DIR / "var" / "bench-results.json"))
    parser.add_argument(
        "--watchers",
        type=lambda text: [int(n) for n in text.split(",")],
        help="the watchers (and granian) parts' subscriber counts, e.g. 1000,2000",
    )
    args = parser.parse_args()
    started = time.monotonic()
    rows = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"machine": machine(), "quick": args.quick, "rows": rows}, indent=2)
    )
    scored = [row for row in rows if row["pass"] is not None]
    misses = [row["metric"] for row in scored if row["pass"] is False]
    print(
        f"\n{len(scored) - len(misses)}/{len(scored)} targets met "
        f"({time.monotonic() - started:.0f} s); JSON in {args.json}"
    )
    for metric in misses:
        print(f"  missed: {metric}")


if __name__ == "__main__":
    main()
