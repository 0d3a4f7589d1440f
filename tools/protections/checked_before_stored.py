"""docs/reliability.md items 6–7. Abuse and bad input: checked before stored, query limits."""

from tools.protections.paths import (
    CLIENT_INPUT_TESTS,
    COMPOSE,
    DIRECT,
    DIRECT_TESTS,
    ENDPOINT,
    ERRORS,
    INGRESS,
    INGRESS_TESTS,
    MULTIPART,
    PAGE_DASHBOARD_TESTS,
    S3_TESTS,
    SCALARS,
    SCHEMA,
    STORAGE,
    TRANSPORT,
    TUS,
    UPLOAD,
    VIEWS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "6 upload rate limit",
        [(UPLOAD, "files=max(0, rate - usage.recent_files) if rate else None,", "files=None,")],
        ["tests/uploads/test_upload_refusals.py::test_uploads_over_the_rate_limit_are_refused"],
    ),
    Protection(
        "6 storage quota",
        [
            (
                UPLOAD,
                "max(0, quota - usage.stored_bytes - usage.reserved_bytes) if quota else None,",
                "None,",
            )
        ],
        ["tests/uploads/test_upload_refusals.py::test_uploads_over_the_quota_are_refused"],
    ),
    Protection(
        "6 request path: an anonymous upload is refused before its body is read",
        [
            (
                ENDPOINT,
                "        user = auth.authenticated_user(request)",
                "        user = auth.authenticate(request)",
            )
        ],
        [f"{INGRESS_TESTS}::test_anonymous_upload_is_refused_before_its_body_is_read"],
    ),
    Protection(
        "6 request path: a declared Content-Length over the limit is refused at once",
        [
            (
                ENDPOINT,
                "        refuse_over(length, limits.max_request_size,",
                "        (lambda *args: None)(length, limits.max_request_size,",
            )
        ],
        [f"{INGRESS_TESTS}::test_declared_length_over_the_limit_is_refused_at_once"],
    ),
    Protection(
        "6 request path: a file over the limit stops where it crosses it",
        [(INGRESS, "        if file_size > limits.max_file_size:", "        if False:")],
        [f"{INGRESS_TESTS}::test_a_streamed_file_over_the_limit_stops_at_the_limit"],
    ),
    Protection(
        "6 request path: what a refused request wrote is removed before the answer",
        [
            (
                ENDPOINT,
                "            else:\n                ingress.discard()",
                "            else:\n                pass",
            )
        ],
        [
            f"{INGRESS_TESTS}::test_a_streamed_file_over_the_limit_stops_at_the_limit",
            "tests/uploads/test_upload_refusals.py::test_upload_over_the_size_limit_is_refused_and_not_stored",
        ],
    ),
    Protection(
        "6 request path: a cancelled upload (the page's Cancel) leaves no bytes and no row",
        [
            (
                ENDPOINT,
                "            else:\n                ingress.discard()",
                "            else:\n                pass",
            )
        ],
        [f"{PAGE_DASHBOARD_TESTS}::test_cancel_stops_the_upload_and_the_server_keeps_nothing"],
    ),
    Protection(
        "6 request path: session requests need the CSRF token",
        [
            (
                "schema/auth.py",
                "and not csrf_passes(request, every_method=csrf_on_every_method):",
                "and False:",
            )
        ],
        ["tests/api/test_auth.py::test_session_upload_needs_the_csrf_token"],
    ),
    Protection(
        "6 S3: an upload streams into its multipart upload one part at a time",
        [
            (
                STORAGE,
                "        if len(self.buffer) >= settings.S3_UPLOAD_PART_SIZE:",
                "        if False:",
            )
        ],
        [f"{S3_TESTS}::test_a_big_upload_to_s3_keeps_the_web_process_flat"],
    ),
    Protection(
        "6 S3: a refused upload aborts its multipart upload (no parts, no object)",
        [
            (
                INGRESS,
                "    def discard(self) -> None:\n        self.upload.abort()",
                "    def discard(self) -> None:\n        pass",
            )
        ],
        [f"{S3_TESTS}::test_a_refused_upload_leaves_no_object_and_no_parts"],
    ),
    Protection(
        "6 S3 direct upload: rate and quota are counted when the URL is issued",
        [(DIRECT, "        check_allowance(owner, [DeclaredUpload(name, size)])", "        pass")],
        [f"{DIRECT_TESTS}::test_limits_apply_when_the_url_is_issued"],
    ),
    Protection(
        "6 S3 direct upload: completeUpload refuses an object of another size",
        [(DIRECT, "    if size != file.size:", "    if False:")],
        [f"{DIRECT_TESTS}::test_a_missing_or_wrong_sized_upload_is_refused_and_not_processed"],
    ),
    Protection(
        "6 S3 direct upload: completeUpload marks PENDING once (a repeat queues nothing)",
        [
            (
                DIRECT,
                "    if file.status != FileStatus.AWAITING_UPLOAD:\n        return file",
                "    if False:\n        return file",
            ),
            (
                DIRECT,
                "            only_if=[FileStatus.AWAITING_UPLOAD],",
                "            only_if=[],",
            ),
        ],
        [f"{DIRECT_TESTS}::test_a_direct_upload_ends_done"],
    ),
    Protection(
        "6 S3: S3 down is SERVICE_UNAVAILABLE, naming no endpoint or key",
        [
            (
                STORAGE,
                '        logger.warning("S3 could not be reached: %s", error)\n'
                "        raise StorageUnavailable from None",
                '        logger.warning("S3 could not be reached: %s", error)\n        raise',
            )
        ],
        [f"{S3_TESTS}::test_s3_down_is_service_unavailable_and_names_nothing"],
    ),
    Protection(
        "6 numbers: a client's numbers are ASCII digits, at most 64 (one helper)",
        [
            (
                "files_app/numbers.py",
                'DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")',
                'DIGITS = re.compile(r"\\d+")',
            )
        ],
        [
            f"{CLIENT_INPUT_TESTS}::test_a_tus_length_or_offset_that_is_not_ascii_digits_is_400",
            f"{CLIENT_INPUT_TESTS}::test_a_token_expiry_takes_ascii_digits_only",
        ],
    ),
    Protection(
        "6 numbers: tus's Upload-Length and Upload-Offset go through the helper (² was a 500)",
        [
            (
                TUS,
                'number = parse_digits(request.headers.get(name, ""))',
                'value = request.headers.get(name, "")\n'
                "    number = int(value) if value.isdigit() else None",
            )
        ],
        [f"{CLIENT_INPUT_TESTS}::test_a_tus_length_or_offset_that_is_not_ascii_digits_is_400"],
    ),
    Protection(
        "6 numbers: a map path's index goes through the helper (² was a 500)",
        [
            (
                MULTIPART,
                "position = parse_digits(key)",
                "position = int(key) if key.isdigit() else None",
            )
        ],
        [f"{CLIENT_INPUT_TESTS}::test_a_map_path_index_that_is_not_ascii_digits_is_invalid_upload"],
    ),
    Protection(
        "6 numbers: Content-Length goes through the helper",
        [(TRANSPORT, "length = parse_digits(raw)", "length = int(raw)")],
        [f"{CLIENT_INPUT_TESTS}::test_a_content_length_that_is_not_ascii_digits_is_400"],
    ),
    Protection(
        "6 numbers: a BigInt variable is a whole 64-bit number",
        [(SCALARS, "    parse_value=big_int_value,\n", "    parse_value=int,\n")],
        [f"{CLIENT_INPUT_TESTS}::test_big_int_takes_whole_numbers_only"],
    ),
    Protection(
        "6 errors: an error with no code of its own is INTERNAL_SERVER_ERROR",
        [
            (
                ERRORS,
                "return cls(INTERNAL_ERROR_MESSAGE, ErrorCode.INTERNAL_SERVER_ERROR)",
                "return cls(INTERNAL_ERROR_MESSAGE, ErrorCode.INVALID_UPLOAD, status=500)",
            )
        ],
        [
            f"{CLIENT_INPUT_TESTS}::"
            "test_a_bug_in_the_tus_endpoint_is_a_masked_500_internal_server_error",
            f"{CLIENT_INPUT_TESTS}::test_a_domain_error_without_a_code_is_internal_not_the_clients",
            "tests/api/test_query_limits.py::test_a_bug_outside_graphql_execution_is_a_masked_json_500",
        ],
    ),
    Protection(
        "7 query depth and alias limits",
        [(SCHEMA, "        QueryLimits,\n", "")],
        [
            "tests/api/test_query_limits.py::test_too_deep_queries_are_refused",
            "tests/api/test_query_limits.py::test_too_many_aliases_are_refused",
        ],
    ),
    Protection(
        "7 query token limit",
        [(SCHEMA, "lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),", "")],
        ["tests/api/test_query_limits.py::test_too_many_tokens_are_refused"],
    ),
    Protection(
        "7 page size is GRAPHQL_MAX_PAGE_SIZE",
        [(SCHEMA, "relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE,", "")],
        [
            "tests/api/test_query_limits.py::test_production_switches_turn_off_graphiql_and_introspection"
        ],
    ),
    Protection(
        "7 introspection can be turned off",
        [(SCHEMA, "*(() if introspection else (NoSchemaIntrospectionCustomRule,)),", "")],
        [
            "tests/api/test_query_limits.py::test_introspection_can_be_turned_off",
            "tests/api/test_query_limits.py::test_production_switches_turn_off_graphiql_and_introspection",
        ],
    ),
    Protection(
        "7 GraphiQL can be turned off",
        [(VIEWS, "if not settings.GRAPHQL_GRAPHIQL:", "if False:")],
        [
            "tests/api/test_query_limits.py::test_production_switches_turn_off_graphiql_and_introspection"
        ],
    ),
    Protection(
        "7 GraphiQL runs under a strict CSP (our own scripts only, talking only to us)",
        [(VIEWS, 'response["Content-Security-Policy"] = GRAPHIQL_CSP', "pass")],
        ["tests/api/test_query_limits.py::test_graphiql_is_our_own_bundle_under_a_strict_csp"],
    ),
    Protection(
        "7 compose: GraphiQL and introspection are off unless asked for",
        [
            (COMPOSE, "GRAPHQL_GRAPHIQL: ${GRAPHQL_GRAPHIQL:-0}", "GRAPHQL_GRAPHIQL: 1"),
            (
                COMPOSE,
                "GRAPHQL_INTROSPECTION: ${GRAPHQL_INTROSPECTION:-0}",
                "GRAPHQL_INTROSPECTION: 1",
            ),
        ],
        [
            "tests/ops/test_compose.py::"
            "test_graphiql_and_introspection_are_off_in_compose_unless_asked_for"
        ],
    ),
    Protection(
        "7 compose: Flower does not start without basic auth",
        [
            (
                COMPOSE,
                'case "$$FLOWER_BASIC_AUTH" in ?*:?*) exec celery flower ;; esac;',
                "exec celery flower;",
            )
        ],
        ["tests/ops/test_compose.py::test_flower_does_not_start_without_basic_auth"],
    ),
]
