"""docs/reliability.md items 12–18: integrity, hostile files, memory per task, tokens,
permissions, fair share, logins."""

from tools.protections.paths import (
    ARCHIVE,
    DELETION,
    DIRECT_TESTS,
    HOSTILE_TESTS,
    MEMORY_LIMIT_TEST,
    NEWCOMER_TESTS,
    PROCESSING,
    PROCESSORS_TESTS,
    RECOVERY,
    REPROCESS,
    SELECTORS,
    SETTINGS_BASE,
    SETTINGS_SECURITY,
    THROTTLING_TESTS,
    VIEWS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "12 integrity: a deleted row's bytes follow it (user cascade included)",
        [
            (
                "files_app/signals.py",
                "lambda name=name: default_storage.delete(name)",
                "lambda: None",
            )
        ],
        ["tests/processing/test_integrity.py::test_deleting_a_user_removes_their_files_and_bytes"],
    ),
    Protection(
        "12 integrity: storage_audit --fix leaves bytes written while it runs",
        [
            (
                "files_app/services/audit.py",
                "if name not in known and default_storage.get_modified_time(name) < started\n",
                "if name not in known\n",
            )
        ],
        ["tests/processing/test_integrity.py::test_storage_audit_reports_then_fixes"],
    ),
    Protection(
        "12 integrity: an abandoned direct upload expires through the sweep, with its object",
        [
            (
                RECOVERY,
                '    counts["expired"] = files_expire_awaiting(now=now)',
                '    counts["expired"] = 0',
            )
        ],
        [f"{DIRECT_TESTS}::test_an_abandoned_upload_expires_with_its_object"],
    ),
    Protection(
        "12 integrity: storage_audit knows missing bytes by their code, not the wording",
        [
            (
                "files_app/services/audit.py",
                "status=FileStatus.FAILED, failure_code=FailureCode.MISSING_BYTES\n    ).exclude(",
                "status=FileStatus.FAILED, error=FAILURE_MESSAGES[FailureCode.MISSING_BYTES]\n"
                "    ).exclude(",
            )
        ],
        [
            "tests/processing/test_integrity.py::test_storage_audit_finds_missing_bytes_by_code_not_by_wording"
        ],
    ),
    Protection(
        "12 integrity: storage_audit --fix removes orphaned bytes",
        [("files_app/services/audit.py", "default_storage.delete(name)", "pass")],
        ["tests/processing/test_integrity.py::test_storage_audit_reports_then_fixes"],
    ),
    Protection(
        "12 integrity: storage_audit asks for a name's row again before deleting it",
        [("files_app/services/audit.py", "        if referenced(name):\n", "        if False:\n")],
        [
            "tests/processing/test_integrity.py::"
            "test_storage_audit_spares_an_upload_whose_row_commits_after_the_listing"
        ],
    ),
    Protection(
        "13 hostile files: a tar with many entries is listed in bounded memory",
        [(ARCHIVE, "            archive.members.clear()\n", "")],
        [f"{PROCESSORS_TESTS}::test_a_tar_with_many_entries_is_listed_in_bounded_memory"],
    ),
    Protection(
        "13 hostile files: a tar listing stops at ARCHIVE_MAX_ENTRIES",
        [
            (
                ARCHIVE,
                "            if examined > source.limits.max_archive_entries:",
                "            if False:",
            )
        ],
        [f"{PROCESSORS_TESTS}::test_a_tar_with_many_entries_is_listed_in_bounded_memory"],
    ),
    Protection(
        "13 hostile files: a zip's directory is counted before zipfile reads it",
        [(ARCHIVE, "    if zip_directory_entries(source.stream, most) > most:", "    if False:")],
        [
            f"{PROCESSORS_TESTS}::"
            "test_a_zip_with_many_directory_entries_is_refused_before_it_is_read",
            f"{PROCESSORS_TESTS}::test_a_zip_that_understates_its_entries_is_still_refused",
            HOSTILE_TESTS,
        ],
    ),
    Protection(
        "13 hostile files: JSON nested past JSON_MAX_DEPTH fails",
        [
            (
                "files_app/processors/json_file.py",
                "            if depth > most:",
                "            if False:",
            )
        ],
        [
            f"{PROCESSORS_TESTS}::test_deeply_nested_json_fails_quickly_in_bounded_memory",
            HOSTILE_TESTS,
        ],
    ),
    Protection(
        "13 hostile files: only IMAGE_FORMATS are opened",
        [
            (
                "files_app/processors/image.py",
                "Image.open(source.stream, formats=limits.image_formats)",
                "Image.open(source.stream)",
            )
        ],
        [
            f"{PROCESSORS_TESTS}::test_an_image_format_outside_the_allowlist_is_refused",
            HOSTILE_TESTS,
        ],
    ),
    Protection(
        "14 memory per task: the pool process's address space is limited",
        [
            (
                "project/celery.py",
                "    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))",
                "    pass",
            )
        ],
        [MEMORY_LIMIT_TEST],
    ),
    Protection(
        "14 memory per task: running out of memory ends the file FAILED, with why",
        [
            (
                PROCESSING,
                "    except MemoryError:  # PROCESSING_MEMORY_LIMIT",
                "    except ArithmeticError:  # PROCESSING_MEMORY_LIMIT",
            )
        ],
        [MEMORY_LIMIT_TEST],
    ),
    Protection(
        "15 tokens: an expired token is refused like an unknown one",
        [(SELECTORS, """(t."expires_at" IS NULL OR t."expires_at" > %s)""", "%s IS NOT NULL")],
        [
            "tests/api/test_tokens.py::test_an_expired_token_is_refused_like_an_unknown_one",
            "tests/api/test_tokens.py::test_an_expired_token_cannot_open_a_websocket",
        ],
    ),
    Protection(
        # Nothing to take out (tokens count only where the API asks for them): put back what
        # e00ea30 removed, a middleware taking a bearer token as a login on every path.
        "15 tokens: a bearer token does not work on /admin/",
        [
            (
                SETTINGS_BASE,
                '    "django.contrib.auth.middleware.AuthenticationMiddleware",\n',
                '    "django.contrib.auth.middleware.AuthenticationMiddleware",\n'
                '    "schema.http.views.BearerEverywhere",\n',
            ),
            (
                VIEWS,
                "def login_locked_out(",
                "class BearerEverywhere:\n"
                "    def __init__(self, get_response):\n"
                "        self.get_response = get_response\n\n"
                "    def __call__(self, request):\n"
                "        if is_bearer(request.headers.get('Authorization')):\n"
                "            request.user = "
                "user_for_bearer_header(request.headers['Authorization'])\n"
                "            request._dont_enforce_csrf_checks = True\n"
                "        return self.get_response(request)\n\n\n"
                "def login_locked_out(",
            ),
        ],
        ["tests/api/test_auth.py::test_a_bearer_token_is_an_api_credential_not_a_login"],
    ),
    Protection(
        "16 permissions: seeing everyone's files needs files_app.view_file",
        [(SELECTORS, 'return holds(user, "view_file")', "return user.is_staff")],
        [
            "tests/api/test_permissions.py::test_seeing_everyones_files_needs_view_file",
            "tests/api/test_permissions.py::test_a_viewer_subscribes_to_someone_elses_file",
            "tests/api/test_auth.py::test_staff_see_every_file_with_the_view_permission",
        ],
    ),
    Protection(
        "16 permissions: deleting someone else's file needs files_app.delete_file",
        [
            (
                DELETION,
                'file_get(user=user, file_id=file_id, to="delete")',
                "file_get(user=user, file_id=file_id)",
            )
        ],
        ["tests/api/test_permissions.py::test_deleting_someone_elses_file_needs_delete_file"],
    ),
    Protection(
        "16 permissions: reprocessing someone else's file needs files_app.reprocess_file",
        [
            (
                REPROCESS,
                'file_get(user=user, file_id=file_id, to="reprocess")',
                "file_get(user=user, file_id=file_id)",
            ),
            ("files_app/admin.py", ', permissions=["reprocess"]', ""),
        ],
        [
            "tests/api/test_permissions.py::test_reprocessing_someone_elses_file_needs_reprocess_file",
            "tests/api/test_permissions.py::test_the_admin_reprocess_action_needs_reprocess_file",
        ],
    ),
    Protection(
        "17 fair share: reprocessFile counts against the rate limit",
        [(REPROCESS, "        check_reprocess_rate(user=user)\n", "")],
        ["tests/api/test_query_limits.py::test_reprocessing_counts_against_the_rate_limit"],
    ),
    Protection(
        "17 fair share: files in flight per user are capped",
        [
            (
                "files_app/services/fair_share.py",
                "return ~Q(status=FileStatus.PENDING) | Q(under_cap)",
                "return Q()",
            )
        ],
        ["tests/processing/test_fair_share.py"],
    ),
    Protection(
        "18 login throttling: failures per username lock it out",
        [
            (
                SETTINGS_SECURITY,
                'AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]',
                'AXES_LOCKOUT_PARAMETERS = ["ip_address"]',
            )
        ],
        [f"{THROTTLING_TESTS}::test_failures_for_one_username_lock_it_out_from_any_address"],
    ),
    Protection(
        "18 login throttling: failures per client address lock it out",
        [
            (
                SETTINGS_SECURITY,
                'AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]',
                'AXES_LOCKOUT_PARAMETERS = ["username"]',
            )
        ],
        [f"{THROTTLING_TESTS}::test_failures_from_one_address_lock_it_out_for_any_username"],
    ),
    Protection(
        "18 login throttling: a lockout is a 429 page with Retry-After",
        [
            (
                SETTINGS_SECURITY,
                'AXES_LOCKOUT_CALLABLE = "schema.http.views.login_locked_out"',
                "AXES_LOCKOUT_CALLABLE = None",
            )
        ],
        [f"{THROTTLING_TESTS}::test_the_lockout_page_under_asgi"],
    ),
    Protection(
        "18 passwords: create_user applies AUTH_PASSWORD_VALIDATORS",
        [
            (
                "files_app/services/users.py",
                "validate_password(password, user=User(username=username, is_staff=is_staff))",
                "pass",
            )
        ],
        [f"{NEWCOMER_TESTS}::test_create_user_refuses_a_password_djangos_validators_refuse"],
    ),
]
