"""docs/reliability.md items 17, 37 and 42: what makes the worker fast must not cost a guarantee."""

from tools.protections.paths import STATEMENTS
from tools.protections.runner import Protection

DISPATCH = "files_app/dispatch.py"
RECOVERED_FIRST_TESTS = "tests/processing/test_recovered_first.py"
PROCESSING = "files_app/services/processing.py"
START_TESTS = "tests/processing/test_start_counts_in_turn.py"

PROTECTIONS = [
    Protection(
        "17 fair share: a start locks the owner's row before its UPDATE counts (one round trip)",
        [
            (
                PROCESSING,
                "lock_owner=bool(settings.FILE_MAX_IN_FLIGHT_PER_USER),",
                "lock_owner=False,",
            )
        ],
        [START_TESTS],
    ),
    Protection(
        "37 counters: a start locks its owner FOR NO KEY UPDATE, so an upload's commit (its "
        "foreign-key check) never deadlocks with it",
        [(STATEMENTS, "%s) FOR NO KEY UPDATE; ", "%s) FOR UPDATE; ")],
        [f"{START_TESTS}::test_a_start_and_an_uploads_commit_never_wait_for_each_other"],
    ),
    Protection(
        "42 recovered first: the sweep's files are queued ahead of the others",
        [
            (
                DISPATCH,
                "settings.RECOVERED_FILE_PRIORITY if recovered else",
                "current_app.conf.task_default_priority if recovered else",
            )
        ],
        [RECOVERED_FIRST_TESTS],
    ),
    Protection(
        "42 recovered first: on Redis, every other file is queued at a lower priority",
        [("project/settings/celery_channels.py", "    CELERY_TASK_DEFAULT_PRIORITY = 9\n", "")],
        [
            f"{RECOVERED_FIRST_TESTS}::test_a_recovered_file_is_processed_before_the_files_queued_ahead_of_it[redis]"
        ],
    ),
]
