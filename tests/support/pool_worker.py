"""A real prefork Celery worker with one pool child, for tests that watch what one file
costs the process that runs it (its peak resident memory, its memory limit).

It uses a broker of its own (another Redis database), so the session's worker can't take its
tasks and its tasks are only those the test sends: files are made as rows and sent here
directly, not through `files_create`, which would also queue them on the session's broker.
"""

from pathlib import Path

import psutil
from celery import Celery

from files_app.models import File
from tests.support.processes import separate_broker_url, start_celery


class PoolWorker:
    def __init__(self, log: Path, env: dict, broker_offset: int = 13):
        self.broker_url = separate_broker_url(broker_offset)
        self.worker = start_celery(
            {"CELERY_BROKER_URL": self.broker_url, **env},
            log,
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--purge",
            "--without-gossip",
            "--without-mingle",
        )
        self.process = self.worker.process
        self.sender = Celery("hostile-tests", broker=self.broker_url, set_as_current=False)
        try:
            self.worker.wait_ready(self.sender)
        except BaseException:
            self.stop()
            raise

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
        self.worker.stop()
        self.sender.close()
