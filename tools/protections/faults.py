"""docs/reliability.md items 1–5, faults (tests/reliability/): a killed worker, stuck work,
Redis and PostgreSQL down, a web restart."""

from tools.protections.paths import (
    CHECKSUM,
    FANOUT,
    KILLED,
    LAYER,
    LEASE,
    PROCESSING,
    RECOVERY,
    RECOVERY_TESTS,
    REPROCESS,
    SETTINGS_BASE,
    SETTINGS_PROCESSING,
    TRANSPORT,
    UPLOAD,
    WORKER_LIMITS_TESTS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "1 lease: the sweep re-queues a PROCESSING file once its lease lapses",
        [(RECOVERY, "lapsed = Q(lease_expires_at__lte=Now()) | Q(", "lapsed = Q(pk__in=[]) | Q(")],
        [KILLED, f"{RECOVERY_TESTS}::test_a_lapsed_lease_is_requeued_and_finishes"],
    ),
    Protection(
        "1 lease: the sweep leaves a run whose lease is live alone",
        [
            (
                RECOVERY,
                "lapsed = Q(lease_expires_at__lte=Now()) | Q(",
                "lapsed = Q(lease_expires_at__isnull=False) | Q(",
            )
        ],
        [
            f"{RECOVERY_TESTS}::test_a_live_lease_is_not_requeued",
            f"{RECOVERY_TESTS}::test_a_long_step_keeps_its_lease",
        ],
    ),
    Protection(
        "1 lease: the worker renews the lease while it works",
        [
            (
                LEASE,
                "                leases_renew(runs)\n",
                "                pass\n",
            )
        ],
        [f"{RECOVERY_TESTS}::test_a_long_step_keeps_its_lease"],
    ),
    Protection(
        "1 lease: a run that lost its lease cannot record progress or finish",
        [
            (
                LEASE,
                'return {"status": FileStatus.PROCESSING, "attempts": attempt}',
                'return {"status": FileStatus.PROCESSING}',
            )
        ],
        [f"{RECOVERY_TESTS}::test_a_taken_over_run_cannot_record_progress_or_finish"],
    ),
    Protection(
        "1 lease: a duplicate delivery leaves a live run alone",
        [
            (
                LEASE,
                "(Q(status=FileStatus.PROCESSING) & LEASE_LAPSED)",
                "Q(status=FileStatus.PROCESSING)",
            )
        ],
        ["tests/processing/test_processing.py::test_a_duplicate_delivery_leaves_a_live_run_alone"],
    ),
    Protection(
        "1 lease: a run stopped for a retry releases its lease",
        [(LEASE, "file_release_lease(file_id=self.file_id, attempt=self.attempt)", "None")],
        ["tests/processing/test_processing.py::test_storage_errors_are_retried_then_fail"],
    ),
    Protection(
        "3 a publish to a Redis that drops it is tried once more, not ten times",
        [(LAYER, "retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),", "")],
        [
            "tests/live/test_group_send_many.py::"
            "test_a_publish_to_a_redis_that_drops_it_tries_once_more_not_ten_times"
        ],
    ),
    Protection(
        "2 a storage error a processor met is retried as one, not called damage",
        [(CHECKSUM, "self.error = self.error or error", "pass")],
        [
            "tests/processing/test_read_once.py::"
            "test_a_storage_error_mid_processor_is_retried_not_called_damage"
        ],
    ),
    Protection(
        "2 a storage error is retried only while an attempt is left for the retry",
        [
            (
                PROCESSING,
                "if retries_left > 0 and file.attempts < settings.FILE_MAX_ATTEMPTS:",
                "if retries_left > 0:",
            )
        ],
        [
            "tests/processing/test_processing.py::"
            "test_the_task_retries_a_storage_error_until_its_retries_run_out"
        ],
    ),
    Protection(
        "1 worker killed: a finished file is never run again (DONE exactly once)",
        [
            (
                LEASE,
                "UNCLAIMED = Q(status=FileStatus.PENDING) | ",
                "UNCLAIMED = ~Q(status=FileStatus.PROCESSING) | ",
            ),
            (
                RECOVERY,
                "lambda file_id=file_id: dispatch.file_enqueue(file_id=file_id, recovered=True)",
                "lambda file_id=file_id: (dispatch.file_enqueue(file_id=file_id),"
                " dispatch.file_enqueue(file_id=file_id, recovered=True))",
            ),
        ],
        [KILLED, "tests/processing/test_processing.py::test_processing_is_idempotent"],
    ),
    Protection(
        "2 stuck work: after FILE_MAX_ATTEMPTS the sweep gives up with FAILED",
        [(RECOVERY, "if attempts >= settings.FILE_MAX_ATTEMPTS:", "if False:")],
        [f"{RECOVERY_TESTS}::test_files_that_keep_failing_to_finish_end_failed"],
    ),
    Protection(
        "2 stuck work: a queued (PENDING) file is re-queued only after FILE_RECOVERY_AFTER",
        [
            (
                RECOVERY,
                "Q(status=FileStatus.PENDING, updated_at__lt=cutoff)",
                "Q(status=FileStatus.PENDING)",
            )
        ],
        [f"{RECOVERY_TESTS}::test_a_pending_backlog_is_not_requeued_before_file_recovery_after"],
    ),
    Protection(
        "2 no crash loop: a run starts only while attempts are left",
        [
            (
                PROCESSING,
                "where=unclaimed & Q(attempts__lt=limit) & fair_share.worker_to_spare(),",
                "where=unclaimed & fair_share.worker_to_spare(),",
            )
        ],
        [
            "tests/processing/test_processing.py::"
            "test_a_file_whose_runs_keep_dying_ends_failed_after_the_last_attempt"
        ],
    ),
    Protection(
        "2 no crash loop: reprocessing gives a file its attempts back",
        [(REPROCESS, "            attempts=0,\n", "")],
        [
            "tests/processing/test_processing.py::"
            "test_a_file_whose_runs_keep_dying_ends_failed_after_the_last_attempt"
        ],
    ),
    Protection(
        "2 a failure while storing a result ends FAILED, not PROCESSING",
        [
            (
                PROCESSING,
                "    try:\n        return file_finish(file=file, checksum=checksum, "
                "result=result)\n    except Exception:",
                "    return file_finish(file=file, checksum=checksum, result=result)\n"
                "    if False:",
            )
        ],
        [
            "tests/processing/test_processing.py::"
            "test_a_failure_while_storing_the_result_ends_failed_not_processing"
        ],
    ),
    Protection(
        "2 every result is bounded (strings and lists)",
        [
            (
                "files_app/processors/__init__.py",
                "fields=bounded(result.fields)",
                "fields=result.fields",
            )
        ],
        [
            "tests/processing/test_processors.py::test_every_result_is_bounded_whatever_the_file_claims"
        ],
    ),
    Protection(
        "2 a CSV record that never ends is refused in bounded memory",
        [
            (
                "files_app/processors/csv_file.py",
                "        if self.spent > MAX_RECORD_CHARS:",
                "        if False:",
            )
        ],
        [
            "tests/processing/test_processors.py::"
            "test_a_csv_record_that_never_ends_is_refused_in_bounded_memory"
        ],
    ),
    Protection(
        "2 a CSV with too many columns is refused",
        [
            (
                "files_app/processors/csv_file.py",
                "            if len(row) > MAX_COLUMNS:",
                "            if False:",
            )
        ],
        ["tests/processing/test_processors.py::test_a_csv_with_too_many_columns_is_refused"],
    ),
    Protection(
        "2 stuck work: the sweep is on the Celery beat schedule",
        [(SETTINGS_PROCESSING, "CELERY_BEAT_SCHEDULE = {", "CELERY_BEAT_SCHEDULE = {} and {")],
        [f"{RECOVERY_TESTS}::test_celery_beat_runs_the_sweep_by_itself"],
    ),
    Protection(
        "3 Redis down: announcing and queueing after commit never fails the upload",
        [
            (
                UPLOAD,
                "lambda file=file: dispatch.file_announce_later(file=file), robust=True",
                "lambda file=file: dispatch.file_announce(file=file)",
            )
        ],
        ["tests/reliability/test_redis_outage.py"],
    ),
    Protection(
        "3 Redis down: subscribers see their connection closed (and reconnect)",
        [(FANOUT, "                self.interrupt()\n", "")],
        ["tests/reliability/test_redis_outage.py"],
    ),
    Protection(
        "4 PostgreSQL down: the GraphQL endpoint answers 503, not 500",
        [
            (
                TRANSPORT,
                "except DATABASE_DOWN:\n            raise EdgeError.unavailable()",
                "except ZeroDivisionError:\n            raise EdgeError.unavailable()",
            )
        ],
        ["tests/reliability/test_postgres_restart.py"],
    ),
    Protection(
        "4 PostgreSQL restart: the endpoint's kept connection is checked before each use",
        [(TRANSPORT, "        close_obsolete_connections()\n        try:", "        try:")],
        ["tests/reliability/test_postgres_restart.py"],
    ),
    Protection(
        "4 PostgreSQL down: views (page, downloads, sessions) answer 503, not 500",
        [(SETTINGS_BASE, '    "schema.http.middleware.DatabaseUnavailableMiddleware",\n', "")],
        ["tests/reliability/test_postgres_restart.py"],
    ),
    Protection(
        "4 PostgreSQL restart: a worker's kept connection is checked before each task",
        [("project/celery.py", "    close_old_connections()\n", "    pass\n")],
        ["tests/reliability/test_postgres_restart.py"],
    ),
    Protection(
        "5 web restart: live websockets refresh their group memberships",
        [(FANOUT, "for group in list(self.members):", "for group in []:")],
        [
            "tests/reliability/test_web_restart.py::"
            "test_memberships_outlive_the_group_expiry_but_not_a_killed_server"
        ],
    ),
    Protection(
        "5 websocket churn: a closed connection leaves every group it may have joined",
        [(FANOUT, "await self.layer.group_discard(group, self.channel)", "pass")],
        ["tests/reliability/test_no_leaks.py"],
    ),
    Protection(
        "2 time limit: a run over PROCESSING_SOFT_TIME_LIMIT is stopped, the file FAILED",
        [("files_app/tasks.py", "    soft_time_limit=settings.PROCESSING_SOFT_TIME_LIMIT,\n", "")],
        [
            f"{WORKER_LIMITS_TESTS}::"
            "test_a_file_over_the_soft_time_limit_is_stopped_and_the_worker_goes_on"
        ],
    ),
    Protection(
        "2 storage errors: the task retries them (autoretry_for)",
        [("files_app/tasks.py", "    autoretry_for=(TransientProcessingError,),\n", "")],
        [
            "tests/processing/test_processing.py::"
            "test_the_task_retries_a_storage_error_until_its_retries_run_out",
            "tests/processing/test_processing.py::test_a_storage_error_that_clears_up_on_a_retry_ends_done",
        ],
    ),
]
