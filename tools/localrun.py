"""`make run`: the whole service in the foreground, on the embedded default.

Starts an embedded Redis when REDIS_URL is unset, migrates, creates the local `demo` user
once, then runs the web server (uvicorn, or daphne with ASGI_SERVER=daphne) and one Celery
worker. Ctrl-C stops all of it, and so does closing the terminal (SIGHUP) or a SIGTERM.

The web server and the worker run in sessions of their own, so a terminal's Ctrl-C or
hangup reaches this process only, and each child is stopped once, from here: Celery says
"Warm shutdown" once, and nothing outlives the terminal (the embedded Redis included).
Their command lines are tools/processes.py's, as for the tests and the bench.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tools.processes import BASE_DIR, CeleryProcess, Process, stop_all, web_command

VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")  # as in project/settings/env.py
STOP_TIMEOUT_SECONDS = 10
WORKER_READY_TIMEOUT_SECONDS = 120
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def web(host: str, port: str) -> list[str]:
    # Log level info: the terminal shows each request. The app answers the lifespan protocol
    # (schema/http/asgi.py): no warning at start.
    return web_command(
        os.environ.get("ASGI_SERVER", "uvicorn"), host=host, port=int(port), log_level="info"
    )


def worker() -> CeleryProcess:
    """In a session of its own, its output on make run's terminal. -B: the worker also runs
    beat (the recovery sweep); in production beat is its own process."""
    return CeleryProcess(
        "worker",
        "-B",
        "--concurrency",
        os.environ.get("WORKER_CONCURRENCY", "2"),
        "--schedule",
        str(VAR_DIR / "celerybeat-schedule"),
        log=None,
        new_session=True,
    )


def manage(*args: str) -> str:
    """Run a management command; returns what it printed (its errors go to the terminal)."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout


def say_when_ready(worker: CeleryProcess, welcome: str) -> None:
    """The worker's banner (about 25 lines) pushes the login off the screen: say it again
    once the worker answers a ping. A worker that never does is reported when it exits."""
    try:
        worker.wait_ready(
            broker=os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"],
            timeout=WORKER_READY_TIMEOUT_SECONDS,
        )
    except Exception:  # not ready in time, exited, or the broker away: nothing to repeat
        return
    say(f"\nThe worker is ready.{welcome}")


def interrupt(*_args) -> None:
    raise KeyboardInterrupt


def say(text: str) -> None:
    """Print, unless the terminal is gone (after a hangup): stopping must go on regardless."""
    try:
        print(text, flush=True)
    except OSError:
        pass


def start(command: list[str]) -> Process:
    """In a session of its own, its output on make run's terminal."""
    return Process(command, new_session=True)


def main() -> int:
    os.environ.setdefault("DEBUG", "1")
    os.chdir(BASE_DIR)
    embedded = None
    if not os.environ.get("REDIS_URL"):
        from tools.embedded_redis import (
            redis_url_for,
            start_embedded_redis,
            stop_embedded_redis,
        )

        port = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
        embedded = start_embedded_redis(port=port, data_dir=VAR_DIR / "redis")
        os.environ["REDIS_URL"] = redis_url_for(port)
        say(f"Embedded Redis on {os.environ['REDIS_URL']}")
    children: list[Process] = []
    try:
        for number in STOP_SIGNALS:  # also when started with SIGINT ignored
            signal.signal(number, interrupt)
        manage("migrate", "--no-input", "-v", "0")
        host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
        welcome = (
            manage("ensure_demo_user").rstrip("\n")
            + f"\n\nServing on http://{host}:{port}/  (GraphiQL at /graphql/, admin at /admin/)"
            + "\nPress Ctrl-C to stop."
        )
        say(welcome)
        children = [start(web(host, port)), worker()]
        say_when_ready(children[1], welcome)
        # Whichever child ends first ends the session: a half-running service helps nobody.
        pid, _status = os.wait()
        name = "web server" if pid == children[0].pid else "worker"
        say(f"The {name} stopped; stopping the rest.")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for number in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(number, signal.SIG_IGN)
        stop_all(children, STOP_TIMEOUT_SECONDS)  # uvicorn drains, Celery warm-stops
        if embedded is not None:
            stop_embedded_redis(embedded)
        say("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
