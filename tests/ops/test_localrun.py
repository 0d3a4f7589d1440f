"""`make run` (tools/localrun.py) stops everything it started, once, whichever way the
terminal goes: Ctrl-C, a closed terminal (SIGHUP) or a SIGTERM. Started for real, on the
embedded Redis, with the test database."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import BASE_DIR, free_port, subprocess_env

START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 40

pytestmark = pytest.mark.django_db(transaction=True)  # its demo user is removed afterwards


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def serving(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class MakeRun:
    """`python -m tools.localrun` in a session of its own, like a terminal's."""

    def __init__(self, var_dir: Path):
        self.redis_port, self.web_port = free_port(), free_port()
        env = {
            **subprocess_env(),
            "DEBUG": "1",
            "VAR_DIR": str(var_dir),
            "PORT": str(self.web_port),
            "EMBEDDED_REDIS_PORT": str(self.redis_port),
            "WORKER_CONCURRENCY": "1",
        }
        env.pop("REDIS_URL", None)  # the embedded Redis, as on a fresh clone
        self.log = var_dir / "make-run.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.localrun"],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started: list[psutil.Process] = []

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready():
            assert self.process.poll() is None, f"make run exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"{what} did not happen:\n{self.output}"
            time.sleep(0.1)  # polling the log and the port, bounded by the deadline
        self.started = psutil.Process(self.process.pid).children(recursive=True)

    def stop_with(self, number: int, *, group: bool) -> list[psutil.Process]:
        """Send the signal (to the whole process group, as a terminal does, or to make run
        alone, as `kill` does); make run exits 0; returns what it left running."""
        if group:
            os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)
        assert self.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0, self.output
        return psutil.wait_procs(self.started, timeout=STOP_TIMEOUT_SECONDS)[1]

    def clean_up(self) -> None:
        """Whatever a failed run left behind (its Redis above all)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        redis = f"127.0.0.1:{self.redis_port}"  # daemonized: not among the children
        for process in [*self.started, *psutil.process_iter()]:
            with contextlib.suppress(psutil.Error):
                if process in self.started or redis in " ".join(process.cmdline()):
                    process.kill()


@pytest.fixture
def make_run(tmp_path):
    run = MakeRun(tmp_path)
    yield run
    run.clean_up()


def test_closing_the_terminal_stops_everything_once(make_run):
    make_run.wait_for(
        lambda: (
            " ready." in make_run.output
            and serving(f"http://127.0.0.1:{make_run.web_port}/accounts/login/")
        ),
        "web and worker ready",
    )
    assert accepts(make_run.redis_port)

    alive = make_run.stop_with(signal.SIGHUP, group=True)
    output = make_run.output
    assert not alive, f"left running: {[process.pid for process in alive]}\n{output}"
    assert not accepts(make_run.redis_port), "the embedded Redis outlived the terminal"
    assert output.count("Warm shutdown") == 1, output
    assert "Traceback" not in output, output
    assert output.rstrip().endswith("Stopped."), output


def test_sigterm_while_starting_stops_the_embedded_redis(make_run):
    """Sent while it migrates: the handlers are in place before anything else starts."""
    make_run.wait_for(lambda: "Embedded Redis on" in make_run.output, "the embedded Redis")

    alive = make_run.stop_with(signal.SIGTERM, group=False)
    assert not alive, make_run.output
    assert not accepts(make_run.redis_port), "the embedded Redis outlived make run"
    assert make_run.output.rstrip().endswith("Stopped."), make_run.output


def test_the_login_is_printed_again_below_the_worker_banner(make_run):
    """Celery's banner (about 25 lines) pushed the login off a newcomer's screen; and no
    command says `AXES: BEGIN version …` any more."""
    make_run.wait_for(
        lambda: make_run.output.count("Log in at http") == 2, "the login printed again"
    )
    output = make_run.output
    assert output.rindex("Log in at http") > output.index("[tasks]"), output  # below the banner
    assert output.rindex("Serving on http") > output.index("[tasks]"), output
    assert "AXES: BEGIN" not in output, output

    alive = make_run.stop_with(signal.SIGINT, group=True)  # Ctrl-C
    assert not alive, make_run.output
