"""docs/reliability.md items 22–26. Operations, resumable uploads, deletions."""

from tools.protections.paths import (
    DELETION,
    DELETION_TESTS,
    OPERATIONS_TESTS,
    PROBES,
    RECOVERY,
    RESUMABLE,
    SUBSCRIBER,
    TUS,
    TUS_TESTS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "22 probes: /readyz names what is down, never its error",
        [
            (
                PROBES,
                "            down.append(name)\n",
                '            down.append(f"{name}: {result}")\n',
            )
        ],
        [f"{OPERATIONS_TESTS}::test_readyz_names_each_dependency_stopped_in_turn_and_nothing_more"],
    ),
    Protection(
        "23 metrics: /metrics answers only the METRICS_TOKEN bearer",
        [(PROBES, "elif not authorized(scope):", "elif False:")],
        [f"{OPERATIONS_TESTS}::test_metrics_need_the_token"],
    ),
    Protection(
        "23 metrics: /metrics is off while METRICS_TOKEN is unset",
        [(PROBES, "elif not settings.METRICS_TOKEN:", "elif False:")],
        [f"{OPERATIONS_TESTS}::test_metrics_need_the_token"],
    ),
    Protection(
        "24 logs: no secret, token or file content reaches a log line",
        [("project/logs.py", '"filters": ["context", "redact"],', '"filters": ["context"],')],
        [f"{OPERATIONS_TESTS}::test_no_secret_token_or_file_content_is_logged"],
    ),
    Protection(
        "25 tus: who is sending is checked before any byte (401)",
        [
            (
                TUS,
                "user = await with_database(authenticated_user)(request)",
                "user = await with_database(authenticate)(request)",
            ),
            (TUS, "from ..auth import authenticated_user", "from ..auth import authenticate"),
        ],
        [f"{TUS_TESTS}::test_unauthenticated_is_401_before_any_byte"],
    ),
    Protection(
        "25 tus: Upload-Length is checked against MAX_UPLOAD_SIZE at creation (413)",
        [(RESUMABLE, "    validate_size(name, size)\n", "")],
        [f"{TUS_TESTS}::test_upload_length_over_the_limit_is_413"],
    ),
    Protection(
        "25 tus: quota and rate are counted at creation (413, 429)",
        [(RESUMABLE, "        check_allowance(owner, [DeclaredUpload(name, size)])\n", "")],
        [f"{TUS_TESTS}::test_quota_and_rate_are_checked_at_creation"],
    ),
    Protection(
        "25 tus: a PATCH at another offset than the stored one is 409, its body unread",
        [(RESUMABLE, "    if offset != upload.offset:", "    if False:")],
        [f"{TUS_TESTS}::test_head_patch_and_wrong_offset"],
    ),
    Protection(
        "25 tus: a PATCH never writes past the declared Upload-Length (413)",
        [
            (RESUMABLE, "if len(chunk) > self.room:", "if False:"),
            (TUS, "if length is not None and offset + length > upload.file.size:", "if False:"),
        ],
        [f"{TUS_TESTS}::test_head_patch_and_wrong_offset"],
    ),
    Protection(
        "25 tus: an abandoned upload expires through the sweep, with its bytes",
        [(RECOVERY, " | Q(resumable__expires_at__lt=now)", "")],
        [f"{TUS_TESTS}::test_an_abandoned_upload_expires_through_the_sweep"],
    ),
    Protection(
        "25 tus: on S3, a terminated or expired upload's multipart upload is aborted",
        [("files_app/signals.py", "    if instance.multipart_id:", "    if False:")],
        ["tests/scale/test_tus_s3.py::test_termination_on_s3_aborts_the_multipart_upload"],
    ),
    Protection(
        "26 deletions: a deleted file's last event reaches everyone who could see it",
        [
            (
                DELETION,
                "    transaction.on_commit(lambda: events.publish_state(last), robust=True)\n",
                "",
            )
        ],
        [f"{DELETION_TESTS}::test_a_deletion_reaches_the_owner_and_staff_and_no_one_else"],
    ),
    Protection(
        "26 deletions: the deletion waits for a change in flight, so its version is newer",
        [
            (
                DELETION,
                "File.objects.select_for_update().filter(pk=file_pk)",
                "File.objects.filter(pk=file_pk)",
            )
        ],
        [f"{DELETION_TESTS}::test_a_deletion_is_newer_than_a_change_committed_while_it_waited"],
    ),
    Protection(
        "26 deletions: a deletion waiting in a slow client's outbox is never replaced",
        [(SUBSCRIBER, '"DELETED" if state.get("deleted") else state["status"]', 'state["status"]')],
        [f"{DELETION_TESTS}::test_a_deletion_waiting_in_the_outbox_is_never_replaced"],
    ),
]
