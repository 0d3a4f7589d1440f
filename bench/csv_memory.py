"""Peak memory and speed of the CSV processor on a large generated CSV.

    .venv/bin/python bench/csv_memory.py [--megabytes 1024]

Runs the checksum pass and the CSV processor exactly as the worker does (processors.run) in
a fresh child process and prints its peak RSS, rows/s and MB/s. A target: peak RSS stays flat
(≤ 128 MiB) whatever the file size, because processing streams.
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW_TEMPLATE = "{i},{value},label {i},{flag},2024-{month:02d}-{day:02d}\n"
HEADER = "id,value,label,flag,day\n"


def make_csv(path: Path, megabytes: int) -> int:
    target = megabytes * 1024 * 1024
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        while out.tell() < target:
            block = "".join(
                ROW_TEMPLATE.format(
                    i=rows + n,
                    value=(rows + n) * 0.25,
                    flag="true" if n % 2 else "false",
                    month=n % 12 + 1,
                    day=n % 28 + 1,
                )
                for n in range(10_000)
            )
            out.write(block)
            rows += 10_000
    return rows


def settings_limits() -> str:
    """The processors' limits as the worker has them (settings), as JSON for the child, which
    loads no settings: its peak RSS is the processors' alone. Only these values are read (no
    app is loaded, nothing is served or signed), so a local checkout's defaults do."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DEBUG", "1")
    from django.conf import settings

    return json.dumps(settings.PROCESSING_LIMITS)


def child(path: str, limits: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from files_app import processors

    values = json.loads(limits)
    values["image_formats"] = tuple(values["image_formats"])

    size = os.path.getsize(path)
    started = time.perf_counter()
    with open(path, "rb") as stream:
        checked, result = processors.run(
            processors.ProcessingSource(
                stream=stream,
                size=size,
                name="bench.csv",
                content_type="text/csv",
                chunk_size=1024 * 1024,
                report_progress=lambda fraction: None,
                limits=processors.ProcessingLimits(**values),
            )
        )
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        for _row in csv.reader(handle):  # the floor: Python's own parser, nothing else
            pass
    plain = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rows": result.fields["row_count"],
                "peak_rss_mib": peak_kib / 1024,
                "bytes": size,
                "kind": checked.kind,
                "plain_seconds": plain,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--limits", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.limits)
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.csv"
        make_csv(path, args.megabytes)
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(path), "--limits", settings_limits()],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(figures))
        return
    mib = figures["bytes"] / 2**20
    print(f"CSV processing ({mib:.0f} MiB, {figures['rows']:,} rows, kind {figures['kind']}):")
    print(
        f"  time        {figures['seconds']:.1f} s  "
        f"({figures['rows'] / figures['seconds']:,.0f} rows/s, "
        f"{mib / figures['seconds']:.1f} MiB/s, checksum pass included)"
    )
    print(f"  peak RSS    {figures['peak_rss_mib']:.0f} MiB  (target ≤ 128 MiB)")


if __name__ == "__main__":
    main()
