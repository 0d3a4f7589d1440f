"""docs/reliability.md items 17 and 20, where the service decides and the task schedules:
`file_process` says whether its task is sent again (`Handled`), the task only acts on it."""

from tools.protections.paths import PROCESSING, RABBITMQ_TESTS, TASKS
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "17 fair share: a deferred file's task is sent again, costing no attempt",
        [
            (
                PROCESSING,
                "None, SendAgain.DEFERRED, countdown=settings.FILE_IN_FLIGHT_RETRY_SECONDS",
                "None, SendAgain.NO, countdown=settings.FILE_IN_FLIGHT_RETRY_SECONDS",
            )
        ],
        [
            "tests/processing/test_fair_share.py::test_one_users_burst_never_has_more_than_the_cap_in_flight"
        ],
    ),
    Protection(
        "20 RabbitMQ: a redelivery that finds the lease fresh is sent again as a takeover",
        [(PROCESSING, "    if file is None and redelivered and not takeover:", "    if False:")],
        [f"{RABBITMQ_TESTS}::test_a_killed_workers_file_is_finished_by_the_other_within_seconds"],
    ),
    Protection(
        "20 RabbitMQ: the task sends a takeover as one",
        [(TASKS, "takeover=handled.send_again is SendAgain.TAKEOVER,", "takeover=False,")],
        [f"{RABBITMQ_TESTS}::test_a_killed_workers_file_is_finished_by_the_other_within_seconds"],
    ),
]
