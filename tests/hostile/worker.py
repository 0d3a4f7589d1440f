"""A real prefork Celery worker with one pool child, for tests that watch what one file
costs the process that runs it (its peak resident memory, its memory limit).

It uses a broker of its own (another Redis database), so the session's worker can't take its
tasks and its tasks are only those the test sends: files are made as rows and sent here
directly, not through `files_create`, which would also queue them on the session's broker.
"""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
from celery import Celery
from django.conf import settings
from django.core.files.base import ContentFile

from files_app.models import File
from files_app.processors import sniff
from tests.conftest import BASE_DIR, READY_TIMEOUT_SECONDS, stop, subprocess_env


def make_file(owner, name: str, content: bytes) -> File:
    sniffed = sniff(content[:8192], name)
    file = File(id=uuid.uuid4(), owner=owner, name=name, size=len(content),
                content_type=sniffed.content_type, kind=sniffed.kind)
    file.stored_file.save(name, ContentFile(content), save=False)
    file.save(force_insert=True)
    return file


class PoolWorker:
    def __init__(self, log: Path, env: dict, broker_database: int = 13):
        self.broker_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{broker_database}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "prefork",
             "--concurrency", "1", "--purge", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
            cwd=BASE_DIR, env={**subprocess_env(), "CELERY_BROKER_URL": self.broker_url, **env},
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )
        self.log = log
        self.sender = Celery("hostile-tests", broker=self.broker_url, set_as_current=False)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.sender.control.ping(timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Celery worker did not start:\n{log.read_text()}")

    def send(self, file: File) -> None:
        self.sender.send_task("files_app.process_file", args=[str(file.pk)])

    def child(self) -> psutil.Process:
        children = psutil.Process(self.process.pid).children()
        assert len(children) == 1, children
        return children[0]

    def peak_rss(self) -> int:
        """The pool child's peak resident memory so far (VmHWM), in bytes."""
        status = Path(f"/proc/{self.child().pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kib) * 1024

    def stop(self) -> None:
        stop(self.process)
        self.sender.close()
