"""PROCESSING_MEMORY_LIMIT on a real prefork worker: a file that needs more memory than a
task may have ends FAILED with a message a user understands, and the worker goes on."""

import pytest

from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from tests import samples
from tests.conftest import wait_until
from tests.hostile.worker import PoolWorker, make_file

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT_MIB = 256
# 49 M pixels, under MAX_IMAGE_PIXELS: ~190 MiB decoded (4 bytes a pixel), twice that while
# the thumbnail is made from a copy. A 440 KB file.
SIDE = 7_000


def finished(file: File):
    return File.objects.filter(pk=file.pk, status__in=(FileStatus.DONE, FileStatus.FAILED)).exists


def test_a_file_that_needs_more_memory_than_the_limit_fails_and_the_worker_goes_on(
        user, process_logs):
    worker = PoolWorker(process_logs / "memory-limit-worker.log",
                        {"PROCESSING_MEMORY_LIMIT": str(LIMIT_MIB)})
    try:
        big = make_file(user, "big.png", samples.png(SIDE, SIDE))
        worker.send(big)
        wait_until(finished(big), 60, "the big image never finished")
        big.refresh_from_db()
        assert big.status == FileStatus.FAILED, big.result
        assert "too large or too complex to process" in big.error, big.error
        assert big.failure_code == FailureCode.TOO_COMPLEX
        assert big.error.endswith(".") and big.error[0].isupper()
        child = worker.child().pid

        small = make_file(user, "small.png", samples.png(64, 64))
        worker.send(small)
        wait_until(finished(small), 30, "the worker stopped serving files")
        small.refresh_from_db()
        assert small.status == FileStatus.DONE, small.error
        assert worker.process.poll() is None and worker.child().pid == child
    finally:
        worker.stop()
