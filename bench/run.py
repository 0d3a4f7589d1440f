"""`make bench`: speed and memory of every hot path, on the real stack, against targets.

Each figure is printed with a reference measured in the same run on the same machine (so
ratios, not absolute numbers, carry across machines), its target, and whether it met it.
`--quick` (make bench QUICK=1) shrinks every load to finish in under two minutes. Results are
also written as JSON (default var/bench-results.json). Never part of the test suite.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loads  # noqa: E402
from bench.stack import BASE_DIR, WebServer, Worker, configure_environment, setup_django  # noqa: E402

MIB = 1024 * 1024
FULL = {"big_upload": 1024 * MIB, "daphne_upload": 200 * MIB, "small_seconds": 20,
        "rows": 100_000, "query_requests": 300, "push_files": 1000, "subscribers": 1000,
        "small_files": 500, "csv_mib": 1024}
QUICK = {"big_upload": 256 * MIB, "daphne_upload": 64 * MIB, "small_seconds": 5,
         "rows": 20_000, "query_requests": 100, "push_files": 100, "subscribers": 200,
         "small_files": 100, "csv_mib": 64}


class Report:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, metric, figure, unit, *, reference=None, target=None, passed=None, note=""):
        ratio = (figure / reference) if reference else None
        self.rows.append({"metric": metric, "figure": round(figure, 3), "unit": unit,
                          "reference": round(reference, 3) if reference else None,
                          "ratio": round(ratio, 3) if ratio else None, "target": target,
                          "pass": passed, "note": note})
        mark = {True: "PASS", False: "MISS", None: ""}[passed]
        ref = f"{reference:,.2f}" if reference else "—"
        rat = f"{ratio:.2f}" if ratio else "—"
        print(f"  {metric:<44} {figure:>12,.2f} {unit:<9} ref {ref:>12} ratio {rat:>6}  "
              f"{target or '':<18} {mark} {note}", flush=True)


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "database": os.environ["DATABASE_URL"].split(":")[0],
            "date": time.strftime("%Y-%m-%d %H:%M")}


def bench_big_uploads(report, work, sizes, token_for):
    user, token = token_for("bench-big")
    for kind, size in (("uvicorn", sizes["big_upload"]), ("daphne", sizes["daphne_upload"])):
        server = WebServer(kind, work)
        try:
            source = loads.make_file(work / f"big-{kind}.bin", size)
            copy_seconds = loads.timed_copy(source, work / "media" / f"copy-{kind}.bin")
            seconds, growth = loads.upload_with_rss(server, token, source)
        finally:
            server.stop()
        mib = size / MIB
        report.add(f"big upload {mib:.0f} MiB via {kind}: throughput", mib / seconds, "MiB/s",
                   reference=mib / copy_seconds, target="≥ 0.5 × disk copy",
                   passed=(copy_seconds / seconds) >= 0.5)
        report.add(f"big upload {mib:.0f} MiB via {kind}: server RSS growth", growth / MIB,
                   "MiB", target="≤ 64 MiB", passed=growth <= 64 * MIB,
                   note="daphne buffers whole bodies" if kind == "daphne" else "")
        source.unlink()


def run(args) -> list[dict]:
    sizes = QUICK if args.quick else FULL
    work = configure_environment()
    setup_django()
    from bench import fixtures

    report = Report()
    print(f"Benchmark ({'quick' if args.quick else 'full'}) on {machine()}", flush=True)
    print(f"  {'metric':<44} {'figure':>12} {'unit':<9} {'reference':>16} {'ratio':>12}  "
          f"{'target':<18}", flush=True)
    fixtures.reset()
    worker = Worker(work, concurrency=1)
    try:
        bench_big_uploads(report, work, sizes, fixtures.user_with_token)
        loads.wait_until_processed(timeout=300)
        server = WebServer("uvicorn", work)
        try:
            _, token = fixtures.user_with_token("bench-small")
            asyncio.run(loads.small_uploads(report, server, token, sizes["small_seconds"]))
            fixtures.bulk_files("bench-query", sizes["rows"])
            _, query_token = fixtures.user_with_token("bench-query")
            loads.files_query(report, server, query_token, sizes["query_requests"])
            loads.wait_until_processed(timeout=300)
            asyncio.run(loads.push_latency(report, server, token, sizes["push_files"]))
            asyncio.run(loads.fan_out(report, server, sizes["subscribers"]))
        finally:
            server.stop()
        loads.processing_throughput(report, sizes["small_files"])
    finally:
        worker.stop()
    loads.csv_processing(report, sizes["csv_mib"])
    shutil.rmtree(work, ignore_errors=True)
    return report.rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=str(BASE_DIR / "var" / "bench-results.json"))
    args = parser.parse_args()
    started = time.monotonic()
    rows = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"machine": machine(), "quick": args.quick,
                                           "rows": rows}, indent=2))
    misses = [row["metric"] for row in rows if row["pass"] is False]
    print(f"\n{len(rows) - len(misses)}/{len(rows)} figures on target "
          f"({time.monotonic() - started:.0f} s); JSON in {args.json}")
    for metric in misses:
        print(f"  missed: {metric}")


if __name__ == "__main__":
    main()
