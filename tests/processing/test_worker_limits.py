"""The limits a real prefork worker puts on one file's run: PROCESSING_MEMORY_LIMIT and
PROCESSING_SOFT_TIME_LIMIT. A file over either ends FAILED with its code and a message a user
understands, and the same pool process goes on with the next file."""

import pytest

from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from tests.support import samples
from tests.support.files import make_sniffed_file
from tests.support.pool_worker import PoolWorker
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT_MIB = 256
# 49 M pixels, under MAX_IMAGE_PIXELS: ~190 MiB decoded (4 bytes a pixel), twice that while
# the thumbnail is made from a copy. A 440 KB file.
SIDE = 7_000
# ~60 MB of CSV: many seconds of parsing, against a 1 s soft time limit.
SLOW_CSV_ROWS = 2_500_000


def finished(file: File):
    return File.objects.filter(pk=file.pk, status__in=(FileStatus.DONE, FileStatus.FAILED)).exists


def test_a_file_that_needs_more_memory_than_the_limit_fails_and_the_worker_goes_on(
    user, process_logs
):
    worker = PoolWorker(
        process_logs / "memory-limit-worker.log", {"PROCESSING_MEMORY_LIMIT": str(LIMIT_MIB)}
    )
    try:
        big = make_sniffed_file(user, "big.png", samples.png(SIDE, SIDE))
        worker.send(big)
        wait_until(finished(big), 60, "the big image never finished")
        big.refresh_from_db()
        assert big.status == FileStatus.FAILED, big.result
        assert "too large or too complex to process" in big.error, big.error
        assert big.failure_code == FailureCode.TOO_COMPLEX
        assert big.error.endswith(".") and big.error[0].isupper()
        child = worker.child().pid

        small = make_sniffed_file(user, "small.png", samples.png(64, 64))
        worker.send(small)
        wait_until(finished(small), 30, "the worker stopped serving files")
        small.refresh_from_db()
        assert small.status == FileStatus.DONE, small.error
        assert worker.process.poll() is None and worker.child().pid == child
    finally:
        worker.stop()


def test_a_file_over_the_soft_time_limit_is_stopped_and_the_worker_goes_on(user, process_logs):
    """Celery's soft time limit, as the task is declared with it: the run is interrupted in
    the pool child (SIGUSR1), the file ends TOOK_TOO_LONG, the child serves the next file."""
    worker = PoolWorker(process_logs / "time-limit-worker.log", {"PROCESSING_SOFT_TIME_LIMIT": "1"})
    try:
        rows = "".join(f"{n},{n * 0.5},row {n}\n" for n in range(SLOW_CSV_ROWS))
        slow = make_sniffed_file(user, "slow.csv", ("id,value,label\n" + rows).encode())
        worker.send(slow)
        wait_until(finished(slow), 60, "the slow file never finished")
        slow.refresh_from_db()
        assert (slow.status, slow.failure_code) == (FileStatus.FAILED, FailureCode.TOOK_TOO_LONG)
        child = worker.child().pid

        small = make_sniffed_file(user, "small.csv", b"id,value\n1,2\n")
        worker.send(small)
        wait_until(finished(small), 30, "the worker stopped serving files")
        small.refresh_from_db()
        assert small.status == FileStatus.DONE, small.error
        assert worker.child().pid == child
    finally:
        worker.stop()
