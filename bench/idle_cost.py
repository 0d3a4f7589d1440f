"""What an idle subscription costs the web process, piece by piece (docs/live-connection-cost.md).

    .venv/bin/python bench/idle_cost.py --count 1000 [--app bare] [--tracemalloc] \\
        [-- <more uvicorn options, e.g. --ws wsproto --ws-per-message-deflate false>]

Starts uvicorn through this module (`serve`, told so by IDLE_COST_DUMP), which answers
SIGUSR1 by writing the event loop's tasks (counted by coroutine) and, with --tracemalloc,
the traced memory by file to a JSON file. Takes that and the RSS once with one warm
subscriber, again with `count` idle subscribers (bench/watchers.py's clients, in their own
processes), and prints the difference per subscription. Not part of `make bench`.
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from files_app.sizes import KIB

DUMP_ENV = "IDLE_COST_DUMP"
TRACE_ENV = "IDLE_COST_TRACEMALLOC"


def dump(*_args) -> None:
    tasks = collections.Counter(
        getattr(task.get_coro(), "__qualname__", type(task.get_coro()).__name__)
        for task in asyncio.all_tasks(asyncio.get_running_loop())
    )
    by_file = {}
    if tracemalloc.is_tracing():
        for stat in tracemalloc.take_snapshot().statistics("lineno"):
            frame = stat.traceback[0]
            by_file[f"{frame.filename}:{frame.lineno}"] = stat.size
    target = Path(os.environ[DUMP_ENV])
    target.with_suffix(".tmp").write_text(json.dumps({"tasks": tasks, "memory": by_file}))
    target.with_suffix(".tmp").rename(target)  # the reader never sees half of it


def serve() -> None:
    """uvicorn's own command line, with the SIGUSR1 dump installed."""
    if os.environ.get(TRACE_ENV):
        tracemalloc.start()
    signal.signal(signal.SIGUSR1, dump)
    import uvicorn

    sys.argv = ["uvicorn", *sys.argv[1:]]
    uvicorn.main()


def snapshot(server, path: Path) -> dict:
    from bench.watchers import rss

    path.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the server wrote no dump")
        time.sleep(0.1)
    return {**json.loads(path.read_text()), "rss": rss(server.pid)}


def area(filename: str) -> str:
    """A file's package (site-packages/<package>/...), or the stdlib module's name."""
    parts = Path(filename.rpartition(":")[0]).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return Path(parts[-1]).stem


def main() -> None:
    if DUMP_ENV in os.environ:  # started by the measuring side below, as the server
        serve()
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--app", choices=("service", "bare"), default="service")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument(
        "--hold",
        type=float,
        default=2.0,
        help="seconds to hold them idle before measuring (py-spy meanwhile)",
    )
    parser.add_argument("options", nargs="*", help="more uvicorn options, after --")
    args = parser.parse_args()

    from bench.loads import cpu_seconds
    from bench.stack import BARE_APP, SERVICE_APP, WebServer, configure_environment, setup_django
    from bench.watchers import Clients, raise_file_limit

    raise_file_limit()
    work = configure_environment()
    setup_django()
    from bench import fixtures

    _, token = fixtures.user_with_token("bench-idle")
    path = work / "dump.json"
    env = {
        DUMP_ENV: str(path),
        "WEBSOCKET_MAX_CONNECTIONS_PER_USER": str(args.count + 100),
        **({TRACE_ENV: "1"} if args.tracemalloc else {}),
    }
    app, ready = (SERVICE_APP, "/accounts/login/") if args.app == "service" else (BARE_APP, "/")
    server = WebServer(
        "uvicorn",
        work,
        app,
        env=env,
        name="uvicorn-idle",
        ready_path=ready,
        options=tuple(args.options),
        module="bench.idle_cost",
    )
    try:
        warm = Clients(server.ws_url, token, 1)
        before = snapshot(server, path)
        clients = Clients(server.ws_url, token, args.count - 1)
        print(
            f"{args.count} subscribers on web process {server.pid}; held {args.hold} s", flush=True
        )
        cpu = cpu_seconds(server.pid, children=False)
        time.sleep(args.hold)  # idle: what they cost while nothing happens is measured
        idle = (cpu_seconds(server.pid, children=False) - cpu) / args.hold
        after = snapshot(server, path)
        clients.stop()
        warm.stop()
    finally:
        server.stop()
    n = args.count - 1
    print(
        f"{args.app} {' '.join(args.options) or '(defaults)'}: {args.count} subscribers, "
        f"RSS {(after['rss'] - before['rss']) / n / KIB:.1f} KiB per subscription"
    )
    tasks = collections.Counter(after["tasks"])
    tasks.subtract(before["tasks"])
    print(f"  idle web CPU: {idle * 100:.0f}% of a core")
    print(f"  tasks per subscription: {sum(tasks.values()) / n:.2f}")
    for name, grew in tasks.most_common():
        if grew:
            print(f"    {grew / n:5.2f}  {name}")
    if args.tracemalloc:
        lines = collections.Counter(after["memory"])
        lines.subtract(before["memory"])
        grew = collections.Counter()
        for line, size in lines.items():
            grew[area(line)] += size
        print(f"  traced Python memory per subscription: {sum(grew.values()) / n / KIB:.1f} KiB")
        for name, size in grew.most_common(15):
            print(f"    {size / n / KIB:6.2f} KiB  {name}")
        print("  the lines that allocated most:")
        for line, size in lines.most_common(25):
            print(f"    {size / n / KIB:6.2f} KiB  {line.rpartition('site-packages/')[2]}")


if __name__ == "__main__":
    main()
