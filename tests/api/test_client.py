"""The `live-files` command-line client (client/, docs/client.md), run as a user runs it: the
installed command in a subprocess (requirements-dev.txt installs `-e ./client`), against the
session's real uvicorn and Celery worker. Uploads small (GraphQL multipart) and big (tus)
files to DONE, resumes a tus upload killed part-way from the server's offset, lists, watches,
waits, downloads byte for byte, and reports the server's refusals with their codes and exit
codes."""

import ast
import asyncio
import hashlib
import json
import os
import pty
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from files_app import services
from files_app.models import File, FileStatus, ResumableUpload, UploadReservation
from schema.graphql.ids import encode_file_id
from tests.support.gate import GatedProxy
from tests.support.processes import BASE_DIR, Server, free_port, wait_until
from tests.support.samples import truncated_jpeg
from tests.support.wsclient import group_scores, renewed

LIVE_FILES = Path(sys.executable).parent / "live-files"
MIB = 1024 * 1024
BIG = 40 * MIB  # past the client's default tus threshold (32 MiB): three PATCHes of 16 MiB
CHUNK = 16 * MIB  # the client's tus PATCH size
RUN_TIMEOUT = 120
CSV = b"city,population\nParis,2102650\nLyon,522250\n"
EXAMPLE = re.compile(r"^```sh example\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DOCS_ADDRESS = "127.0.0.1:8000"
QUOTA = 1 * MIB
# The client installs alone (pip install ./client): none of the service's packages is there.
SERVICE_PACKAGES = {"project", "files_app", "schema", "tools", "tests", "django", "strawberry"}
SERVICE_PACKAGES |= {"channels", "channels_redis", "celery"}


@pytest.fixture(scope="module", autouse=True)
def installed():
    if not LIVE_FILES.exists():
        pytest.fail(f"{LIVE_FILES} is missing: `make install` installs the client (-e ./client)")


@pytest.fixture(scope="module")
def limited_server(django_db_setup, process_logs):
    """A small storage quota and three files a minute."""
    server = Server(
        "uvicorn",
        process_logs,
        env={"STORAGE_QUOTA": str(QUOTA), "UPLOAD_RATE_LIMIT_PER_MINUTE": "3"},
    )
    yield server
    server.stop()


def client_env(tmp_path: Path, url: str, token: str | None) -> dict:
    """Only what a user's shell would have: no Django settings, a cache folder of its own."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
        "LIVE_FILES_URL": url,
    }
    if token:
        env["LIVE_FILES_TOKEN"] = token
    return env


def live_files(*args, env: dict, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LIVE_FILES), *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_sha256(file: File) -> str:
    digest = hashlib.sha256()
    with default_storage.open(file.stored_file.name) as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def file_of(outcome: dict) -> File:
    return File.objects.get(pk=outcome["file"]["url"].split("/")[-2])


# --- uploads, listing, downloads --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_upload_wait_list_and_download(uvicorn_server, celery_worker, token, user, tmp_path):
    small, big = tmp_path / "cities.csv", tmp_path / "big.bin"
    small.write_bytes(CSV)
    big.write_bytes(os.urandom(BIG))
    env = client_env(tmp_path, uvicorn_server.url, token)

    done = live_files("upload", small, big, "--wait", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # not a terminal: no bars, no notes, and nothing went wrong
    outcomes = json.loads(done.stdout)
    assert [(o["transport"], o["file"]["status"]) for o in outcomes] == [
        ("multipart", "DONE"),
        ("tus", "DONE"),
    ]
    for outcome, path in zip(outcomes, (small, big)):
        row = file_of(outcome)
        assert (row.owner, row.status, row.name) == (user, FileStatus.DONE, path.name)
        assert stored_sha256(row) == sha256(path.read_bytes()) == outcome["file"]["sha256"]

    listed = live_files("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [file["name"] for file in json.loads(listed.stdout)] == ["big.bin", "cities.csv"]
    lines = live_files("list", "--status", "done", "--limit", "1", env=env).stdout.splitlines()
    assert lines == [f"{outcomes[1]['file']['id']}\tDONE\t{BIG}\tbig.bin".encode()]

    saved = live_files("download", outcomes[1]["file"]["id"], "-o", tmp_path / "back.bin", env=env)
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    assert saved.stdout.decode().strip() == str(tmp_path / "back.bin")
    to_stdout = live_files("download", outcomes[0]["file"]["id"], "-o", "-", env=env)
    assert (to_stdout.returncode, to_stdout.stdout) == (0, CSV)
    by_name = live_files("download", outcomes[0]["file"]["id"], env=env, cwd=tmp_path / "cache")
    assert (tmp_path / "cache" / "cities.csv").read_bytes() == CSV, by_name.stderr
    again = live_files("download", outcomes[0]["file"]["id"], env=env, cwd=tmp_path / "cache")
    assert again.returncode == 2 and b"exists (pass --force" in again.stderr


@pytest.mark.django_db(transaction=True)
def test_a_failed_file_makes_upload_wait_and_wait_exit_5(
    uvicorn_server, celery_worker, token, tmp_path
):
    broken, fine = tmp_path / "broken.jpg", tmp_path / "fine.csv"
    broken.write_bytes(truncated_jpeg())
    fine.write_bytes(CSV)
    env = client_env(tmp_path, uvicorn_server.url, token)

    uploaded = live_files("upload", broken, fine, "--wait", "--json", env=env)
    assert uploaded.returncode == 5, uploaded.stderr
    files = [outcome["file"] for outcome in json.loads(uploaded.stdout)]
    assert [(f["name"], f["status"], f["failureCode"]) for f in files] == [
        ("broken.jpg", "FAILED", "DAMAGED"),
        ("fine.csv", "DONE", None),
    ]
    waited = live_files("wait", *(f["id"] for f in files), env=env)  # for a later script
    assert waited.returncode == 5, waited.stderr
    assert [line.split(b"\t")[:2] for line in waited.stdout.splitlines()] == [
        [files[0]["id"].encode(), b"FAILED"],
        [files[1]["id"].encode(), b"DONE"],
    ]


@pytest.mark.django_db(transaction=True)
def test_wait_gives_up_after_its_timeout(uvicorn_server, token, user, tmp_path):
    """A file whose bytes never finish arriving never finishes processing either."""
    waiting = services.resumable_upload_create(owner=user, name="never.bin", size=10)
    env = client_env(tmp_path, uvicorn_server.url, token)
    gave_up = live_files("wait", encode_file_id(waiting.pk), "--timeout", "1", env=env)
    assert gave_up.returncode == 4, gave_up.stderr
    assert b"1 file(s) still not DONE or FAILED after 1 s" in gave_up.stderr


@pytest.mark.django_db(transaction=True)
def test_bars_are_drawn_on_a_terminal(uvicorn_server, celery_worker, token, tmp_path):
    """stderr a terminal: a bar per file, then its processing status; stdout (a pipe) still
    gets one plain line per file."""
    paths = [tmp_path / "one.csv", tmp_path / "two.txt"]
    for path in paths:
        path.write_bytes(CSV)
    controller, terminal = pty.openpty()
    env = {**client_env(tmp_path, uvicorn_server.url, token), "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        [str(LIVE_FILES), "upload", *map(str, paths), "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    screen = read_terminal(controller, process)
    stdout = process.stdout.read().decode()
    assert process.wait(RUN_TIMEOUT) == 0, screen
    for path in paths:
        assert re.search(rf"{path.name}\s+━+\s+100% DONE", screen), screen
    assert [line.split("\t")[1:] for line in stdout.splitlines()] == [
        ["DONE", str(len(CSV)), "one.csv"],
        ["DONE", str(len(CSV)), "two.txt"],
    ]


def read_terminal(controller: int, process: subprocess.Popen) -> str:
    """Everything written to the terminal until the process closes it (bounded)."""
    output, deadline = b"", time.monotonic() + RUN_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                data = os.read(controller, 65536)
                if not data:
                    break
                output += data
            elif process.poll() is not None:
                break
    except OSError:  # EIO: the process closed its end
        pass
    finally:
        os.close(controller)
    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", output).decode(errors="replace")


# --- resuming ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_killed_tus_upload_resumes_from_the_servers_offset(
    uvicorn_server, celery_worker, token, user, tmp_path
):
    """The network stalls in the second PATCH and the client is killed (SIGKILL: no clean-up
    of its own). The same command run again resumes from the offset the server recorded,
    sends only what is missing, and the file is whole."""
    big = tmp_path / "resumed.bin"
    big.write_bytes(os.urandom(BIG))
    proxy = GatedProxy(uvicorn_server.port, budget=CHUNK + 4 * MIB)
    env = client_env(tmp_path, f"http://127.0.0.1:{proxy.port}", token)
    try:
        first = subprocess.Popen(
            [str(LIVE_FILES), "upload", str(big)], env=env, stdout=subprocess.PIPE
        )
        assert proxy.held.wait(RUN_TIMEOUT), "the upload never reached the stall"
        first.kill()
        first.wait(RUN_TIMEOUT)
        proxy.cut()  # the server sees the client gone, and keeps what arrived
        upload = ResumableUpload.objects.get(file__owner=user)
        wait_until(
            lambda: not UploadReservation.objects.filter(file=upload.file_id).exists(),
            30,
            "the server kept holding the interrupted PATCH",
        )
        offset = ResumableUpload.objects.get(pk=upload.pk).offset
        assert CHUNK <= offset < BIG

        proxy.release()
        second = live_files("upload", big, "--wait", "--json", env=env)
        assert second.returncode == 0, second.stderr
        (outcome,) = json.loads(second.stdout)
        assert outcome["resumedFrom"] == offset
        assert f"resuming resumed.bin at byte {offset} of {BIG}".encode() in second.stderr
        # the rest of the bytes, plus a few requests' headers and the GraphQL around them
        assert proxy.forwarded < BIG - offset + 64 * 1024
    finally:
        proxy.close()
    row = File.objects.get(owner=user)  # one file: the upload was not started again
    assert (row.pk, row.status) == (upload.file_id, FileStatus.DONE)
    assert stored_sha256(row) == sha256(big.read_bytes())
    stored = json.loads((tmp_path / "cache" / "live-files" / "tus-uploads.json").read_text())
    assert stored == {"_default": {}}  # a finished upload is forgotten


# --- live updates ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_watch_prints_each_change_as_it_happens(
    uvicorn_server, celery_worker, token, user, tmp_path
):
    (tmp_path / "watched.csv").write_bytes(CSV)
    env = client_env(tmp_path, uvicorn_server.url, token)
    before = asyncio.run(group_scores(user))
    watcher = subprocess.Popen(
        [str(LIVE_FILES), "watch", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    lines = queue.Queue()
    threading.Thread(target=read_into, args=(watcher.stdout, lines), daemon=True).start()
    try:
        # graphql-transport-ws has no "subscribed" message: the server joining the user's
        # group is the sign that nothing uploaded from now on can be missed.
        wait_until(
            lambda: renewed(before, asyncio.run(group_scores(user))), 15, "watch did not subscribe"
        )
        uploaded = live_files("upload", tmp_path / "watched.csv", "--json", env=env)
        file_id = json.loads(uploaded.stdout)[0]["file"]["id"]
        seen = []
        while not seen or seen[-1] != "DONE":
            event = json.loads(lines.get(timeout=30))
            assert event["id"] == file_id and event["name"] == "watched.csv"
            seen.append(event["status"])
        assert seen[0] == "PENDING"
        watcher.send_signal(signal.SIGINT)  # Ctrl-C
        assert watcher.wait(RUN_TIMEOUT) == 130
    finally:
        watcher.kill()
        watcher.wait()


def read_into(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


# --- refusals and failures ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_bad_token_exits_3_naming_the_code(uvicorn_server, user, tmp_path):
    (tmp_path / "a.csv").write_bytes(CSV)
    (tmp_path / "b.bin").write_bytes(b"x" * MIB)
    env = client_env(tmp_path, uvicorn_server.url, "not-a-token")
    for command in (
        ["list"],
        ["upload", tmp_path / "a.csv"],
        ["upload", tmp_path / "b.bin", "--tus-threshold", "1MiB"],  # tus
        ["watch"],
        ["wait", "RmlsZTo0"],
        ["download", "RmlsZTo0"],
    ):
        refused = live_files(*command, env=env)
        assert refused.returncode == 3, (command, refused.stderr)
        assert b"UNAUTHENTICATED" in refused.stderr, (command, refused.stderr)
    assert not File.objects.exists()
    missing = live_files("list", env=client_env(tmp_path, uvicorn_server.url, None))
    assert missing.returncode == 2 and b"LIVE_FILES_TOKEN" in missing.stderr


def test_an_unreachable_server_exits_4(tmp_path):
    env = client_env(tmp_path, f"http://127.0.0.1:{free_port()}", "a-token")
    (tmp_path / "a.csv").write_bytes(CSV)
    for command in (["list", "--json"], ["upload", tmp_path / "a.csv"], ["watch"]):
        failed = live_files(*command, env=env)
        assert failed.returncode == 4, (command, failed.stderr)
        assert re.search(rb"cannot reach (http|ws)://127\.0\.0\.1:", failed.stderr), failed.stderr
    assert json.loads(live_files("list", "--json", env=env).stdout)["error"]["code"] is None


@pytest.mark.django_db(transaction=True)
def test_quota_and_rate_limit_refusals_carry_the_servers_code(limited_server, token, tmp_path):
    small, over = tmp_path / "small.csv", tmp_path / "over.bin"
    small.write_bytes(CSV)
    over.write_bytes(b"x" * (QUOTA + 1))
    env = client_env(tmp_path, limited_server.url, token)

    # One file refused does not stop the others: the small one is stored, the run exits 1.
    refused = live_files("upload", over, small, "--json", env=env)
    assert refused.returncode == 1, refused.stderr
    first, second = json.loads(refused.stdout)
    assert first["file"] is None and first["error"]["code"] == "QUOTA_EXCEEDED"
    assert first["error"]["httpStatus"] == 413
    assert second["file"]["name"] == "small.csv" and second["error"] is None
    assert b"over.bin: QUOTA_EXCEEDED: " in refused.stderr and b"(HTTP 413)" in refused.stderr
    through_tus = live_files("upload", over, "--tus-threshold", "1KiB", env=env)
    assert through_tus.returncode == 1 and b"QUOTA_EXCEEDED" in through_tus.stderr

    assert live_files("upload", small, small, env=env).returncode == 0  # three in the minute
    limited = live_files("upload", small, env=env)
    assert limited.returncode == 4, limited.stderr
    assert b"RATE_LIMITED: " in limited.stderr and b"(HTTP 429, retry after 60 s)" in limited.stderr


@pytest.mark.django_db(transaction=True)
def test_webhooks_are_created_listed_and_deleted(uvicorn_server, token, tmp_path):
    """Against the session's server, which refuses private destinations (its default)."""
    env = client_env(tmp_path, uvicorn_server.url, token)
    hook = "https://93.184.215.14/hook"  # a public address literal: nothing to resolve
    created = live_files("webhooks", "create", hook, "--event", "file.done", "--json", env=env)
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    assert made["secret"].startswith("whsec_") and made["webhook"]["events"] == ["FILE_DONE"]

    listed = live_files("webhooks", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.decode().split() == [made["webhook"]["id"], hook, "FILE_DONE"]

    refused = live_files("webhooks", "create", "http://127.0.0.1:9/hook", env=env)
    assert refused.returncode == 1, refused.stderr
    assert b"WEBHOOK_DESTINATION_REFUSED: " in refused.stderr

    deleted = live_files("webhooks", "delete", made["webhook"]["id"], env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.decode().strip() == made["webhook"]["id"]
    assert live_files("webhooks", "list", "--json", env=env).stdout.strip() == b"[]"
    gone = live_files("webhooks", "delete", made["webhook"]["id"], env=env)
    assert gone.returncode != 0 and b"NOT_FOUND" in gone.stderr


# --- the package and its documentation --------------------------------------------------------


def test_the_package_installs_with_its_command(tmp_path):
    """What `pip install ./client` builds (its own dependencies are the test venv's), from a
    copy: pip builds in the source folder."""
    source, target = tmp_path / "client", tmp_path / "installed"
    shutil.copytree(
        BASE_DIR / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", target, source], check=True, timeout=RUN_TIMEOUT)
    env = {**os.environ, "PYTHONPATH": str(target)}
    helped = subprocess.run(
        [target / "bin" / "live-files", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert helped.returncode == 0, helped.stderr
    assert "upload" in helped.stdout and "exit codes" in helped.stdout
    where = "import live_files_client; print(live_files_client.__file__)"
    loaded = subprocess.run([sys.executable, "-c", where], env=env, capture_output=True, text=True)
    assert loaded.stdout.startswith(str(target)), loaded.stderr


def test_the_client_imports_nothing_of_the_service():
    imported = set()
    for path in (BASE_DIR / "client").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert {"gql", "tusclient", "rich", "httpx"} <= imported
    assert imported & SERVICE_PACKAGES == set()


@pytest.mark.django_db(transaction=True)
def test_the_docs_examples_run_as_written(uvicorn_server, celery_worker, token, tmp_path):
    """docs/client.md's `sh example` blocks, in a folder like a checkout after `make run`."""
    examples = EXAMPLE.findall((BASE_DIR / "docs" / "client.md").read_text())
    assert examples, "docs/client.md lost its runnable examples"
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "demo-credentials.txt").write_text(f"username=demo\ntoken={token}\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TOKEN": token, "LANG": "C.UTF-8"}
    for code in examples:
        code = code.replace(DOCS_ADDRESS, f"127.0.0.1:{uvicorn_server.port}")
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        assert done.returncode == 0, f"{code}\n---\n{done.stdout}{done.stderr}"
    assert File.objects.filter(status=FileStatus.DONE).exists()
