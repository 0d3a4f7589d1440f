"""docs/reliability.md items 17 and 35: what makes the worker fast must not cost a guarantee."""

from tools.protections.runner import Protection

DISPATCH = "files_app/dispatch.py"
RECOVERED_FIRST_TESTS = "tests/processing/test_recovered_first.py"
PROCESSING = "files_app/services/processing.py"

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
        ["tests/processing/test_start_counts_in_turn.py"],
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
