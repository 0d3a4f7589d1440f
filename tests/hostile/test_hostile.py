"""The hostile corpus (generate.py) through a real prefork worker with the default limits:
every file ends as expected, well within its time limit, run at most FILE_MAX_ATTEMPTS times,
and the pool child's peak resident memory (VmHWM) grows by less than GROWTH_BOUND over what
it started with (docs/reliability.md, 13)."""

import pytest
from django.conf import settings

from files_app.models import File, FileStatus
from files_app.sizes import MIB
from tests.hostile.generate import CORPUS
from tests.support.files import make_sniffed_file
from tests.support.pool_worker import PoolWorker
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

GROWTH_BOUND = 32 * MIB  # measured: 105 MiB at start, 123 MiB at the peak (the CSV record)
TIME_LIMIT_SECONDS = 30  # each file's PROCESSING_SOFT_TIME_LIMIT here


def test_hostile_files_end_as_expected_in_bounded_memory_and_time(user, process_logs):
    # The child is never replaced (no max memory per child), so its VmHWM covers every file.
    worker = PoolWorker(
        process_logs / "hostile-worker.log",
        {
            "PROCESSING_SOFT_TIME_LIMIT": str(TIME_LIMIT_SECONDS),
            "PROCESSING_MAX_MEMORY_PER_CHILD": "0",
        },
    )
    try:
        peaks = {"(started)": worker.peak_rss() // MIB}
        for hostile in CORPUS:
            file = make_sniffed_file(user, hostile.name, hostile.build())
            worker.send(file)
            final = File.objects.filter(pk=file.pk, status__in=(FileStatus.DONE, FileStatus.FAILED))
            wait_until(
                final.exists,
                TIME_LIMIT_SECONDS + 15,
                f"{hostile.name} did not finish within its time limit",
            )
            file.refresh_from_db()
            assert file.status == hostile.expected, (hostile.name, file.error)
            assert hostile.error in file.error, (hostile.name, file.error)
            assert file.attempts <= settings.FILE_MAX_ATTEMPTS, (hostile.name, file.attempts)
            peaks[hostile.name] = worker.peak_rss() // MIB
    finally:
        worker.stop()
    print("pool child peak RSS (MiB) after each file:", peaks)
    assert (max(peaks.values()) - peaks["(started)"]) * MIB < GROWTH_BOUND, peaks
