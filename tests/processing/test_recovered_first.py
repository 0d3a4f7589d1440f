"""A file the recovery sweep queues again (its worker died) goes to the front of the queue:
it is processed before the files queued ahead of it, on Redis (a list per priority) and on
RabbitMQ (a queue declared with x-max-priority). Without the priority it would wait behind
all of them, after already waiting out its lease.

The files are queued, and the sweep run, while no worker consumes; then one worker (the
production pool, one process) takes them one at a time, and the order they ended DONE in is
the order they were taken in. Each broker is one of the test's own (another Redis database,
a RabbitMQ virtual host), so the session's worker takes none of the tasks."""

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from files_app.models import File, FileStatus
from tests.support.files import make_file
from tests.support.processes import separate_broker_url, start_celery, subprocess_env, wait_until
from tests.support.scale import rabbitmq_reachable, rabbitmq_vhost, wait_for_workers
from tools.processes import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)

QUEUED_AHEAD = 4
CONTENT = ("id,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(2000))).encode()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request):
    if request.param == "redis":
        yield separate_broker_url(9)
        return
    if not rabbitmq_reachable():
        pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672")
    with rabbitmq_vhost() as url:
        yield url


def queue_then_recover(broker: str, file_ids: list) -> None:
    """In a process of its own on `broker`: queue the files, in order, then run the sweep."""
    code = (
        "from files_app import dispatch\n"
        "from files_app.services.recovery import files_recover\n"
        f"for file_id in {[str(each) for each in file_ids]!r}:\n"
        "    dispatch.file_enqueue(file_id=file_id)\n"
        "assert files_recover()['requeued'] == 1\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**subprocess_env(), "CELERY_BROKER_URL": broker},
        check=True,
        timeout=60,
    )


def test_a_recovered_file_is_processed_before_the_files_queued_ahead_of_it(
    broker, user, process_logs
):
    ahead = [make_file(user, CONTENT, name=f"ahead-{n}.csv") for n in range(QUEUED_AHEAD)]
    lapsed = timezone.now() - timedelta(minutes=5)
    recovered = make_file(
        user,
        CONTENT,
        name="recovered.csv",
        status=FileStatus.PROCESSING,
        attempts=1,
        lease_expires_at=lapsed,
    )
    queue_then_recover(broker, [file.pk for file in ahead])
    assert File.objects.get(pk=recovered.pk).status == FileStatus.PENDING

    env = {"CELERY_BROKER_URL": broker, "FILE_MAX_IN_FLIGHT_PER_USER": "0"}
    worker = start_celery(
        env,
        process_logs / "recovered-first.log",
        "worker",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
        hostname="recovered-first@%h",
    )
    try:
        wait_for_workers(broker, ["recovered-first"])
        everything = File.objects.filter(owner=user)
        wait_until(
            lambda: everything.filter(status=FileStatus.DONE).count() == QUEUED_AHEAD + 1,
            120,
            "the files were not all processed",
        )
    finally:
        worker.stop()
    order = list(everything.order_by("processed_at").values_list("name", flat=True))
    assert order[0] == "recovered.csv", order
