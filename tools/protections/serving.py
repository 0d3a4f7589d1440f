"""docs/reliability.md items 8–11, abuse and bad input: downloads, websockets, fuzzing,
production settings."""

from tools.protections.paths import (
    CONNECTIONS,
    DIRECT_TESTS,
    ENDPOINT,
    ERRORS,
    INGRESS,
    MULTIPART,
    QUERIES,
    REVALIDATION,
    S3_TESTS,
    SETTINGS_BASE,
    SETTINGS_SECURITY,
    STORAGE,
    SUBSCRIBER,
    VIEWS,
    WEBSOCKET,
    WEBSOCKET_ACCESS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "8 downloads are attachments",
        [
            (
                VIEWS,
                "    attachment: bool = True,\n):",
                "    attachment: bool = False,\n):",
            )
        ],
        [
            "tests/api/test_auth.py::test_uploaded_html_and_svg_are_never_rendered_inline",
            "tests/api/test_auth.py::test_download_names_are_quoted_safely",
        ],
    ),
    Protection(
        "8 downloads are sandboxed (CSP)",
        [(VIEWS, 'response["Content-Security-Policy"] = DOWNLOAD_CSP', "pass")],
        ["tests/api/test_auth.py::test_uploaded_html_and_svg_are_never_rendered_inline"],
    ),
    Protection(
        "8 downloads say nosniff",
        [
            (VIEWS, 'response["X-Content-Type-Options"] = "nosniff"', "pass"),
            (
                SETTINGS_SECURITY,
                "SECURE_CONTENT_TYPE_NOSNIFF = True",
                "SECURE_CONTENT_TYPE_NOSNIFF = False",
            ),
        ],
        ["tests/api/test_auth.py::test_uploaded_html_and_svg_are_never_rendered_inline"],
    ),
    Protection(
        "8 download file names are quoted safely",
        [
            (
                VIEWS,
                "= content_disposition_header(attachment, filename)\n",
                "= f'attachment; filename=\"{filename}\"'\n",
            )
        ],
        ["tests/api/test_auth.py::test_download_names_are_quoted_safely"],
    ),
    Protection(
        "8 stored paths are never derived from the client's name",
        [
            (
                "files_app/models.py",
                "    return stored_name(instance.owner_id, instance.pk)",
                '    return f"uploads/{instance.owner_id}/{filename}"',
            )
        ],
        [
            "tests/uploads/test_upload_refusals.py::test_stored_path_is_not_derived_from_the_client_name",
            "tests/api/test_auth.py::test_uploaded_html_and_svg_are_never_rendered_inline",
        ],
    ),
    Protection(
        "8 S3: URLs handed to clients are signed for AWS_S3_PUBLIC_ENDPOINT_URL",
        [
            (
                STORAGE,
                "    return client_for(endpoint) if endpoint else s3_client()",
                "    return s3_client()",
            )
        ],
        [f"{DIRECT_TESTS}::test_presigned_urls_use_the_public_endpoint"],
    ),
    Protection(
        "8 S3: a download is owner-checked, then redirected to a presigned URL",
        [(VIEWS, "    if storage.is_s3() and with_body:", "    if False:")],
        [f"{S3_TESTS}::test_two_webs_two_workers_on_s3"],
    ),
    Protection(
        "9 websocket: foreign browser origins are refused",
        [
            (
                WEBSOCKET,
                "allowed_origins=settings.WEBSOCKET_ALLOWED_ORIGINS,",
                'allowed_origins=["*"],',
            )
        ],
        ["tests/live/test_subscriptions.py::test_browser_session_from_a_foreign_origin_is_refused"],
    ),
    Protection(
        "9 websocket: no valid credentials is 4401 (graphql-ws does not retry it)",
        [(WEBSOCKET, "if code == FORBIDDEN and self.unauthenticated:", "if False:")],
        [
            "tests/live/test_subscriptions.py::test_connection_without_credentials_is_closed_4401",
            "tests/live/test_subscriptions.py::test_connection_with_a_wrong_token_is_closed_4401",
        ],
    ),
    Protection(
        "9 websocket: subscriptions per connection are limited",
        [
            (
                WEBSOCKET,
                "max_subscriptions_per_connection="
                "settings.GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION,",
                "",
            )
        ],
        ["tests/api/test_query_limits.py::test_subscriptions_per_connection_are_limited"],
    ),
    Protection(
        "9 websocket: a logged-out session, a deleted token or a deactivated user is closed "
        "4401 within WEBSOCKET_REVALIDATE_SECONDS",
        [(REVALIDATION, 'if now is None or now[0].pk != consumer.scope["user"].pk:', "if False:")],
        [
            f"{WEBSOCKET_ACCESS}::test_a_logged_out_session_is_closed_4401",
            f"{WEBSOCKET_ACCESS}::test_a_deleted_token_is_closed_4401",
            f"{WEBSOCKET_ACCESS}::test_a_deactivated_user_is_closed_4401",
        ],
    ),
    Protection(
        "9 websocket: a demoted staff member's subscriptions are narrowed to their own files",
        [
            (
                REVALIDATION,
                "            await hub.get().narrow(consumer, consumer.viewer_groups)\n",
                "",
            ),
            (
                SUBSCRIBER,
                "if not channel.reaches(self.consumer.viewer_groups, state):",
                "if False:",
            ),
        ],
        [f"{WEBSOCKET_ACCESS}::test_a_demoted_staff_member_gets_only_their_own_files"],
    ),
    Protection(
        "9 websocket: Host is checked against ALLOWED_HOSTS",
        [(WEBSOCKET, "if not host_allowed(self.scope):", "if False:")],
        [f"{WEBSOCKET_ACCESS}::test_a_host_not_in_allowed_hosts_is_refused"],
    ),
    Protection(
        "9 websocket: connections per user are capped",
        [(CONNECTIONS, "return count <= limit", "return True")],
        [f"{WEBSOCKET_ACCESS}::test_connections_per_user_are_capped_across_web_processes"],
    ),
    Protection(
        "9 websocket: the cap counts a user's connections across web processes",
        [
            (
                CONNECTIONS,
                'self.key = f"{layer.prefix}:websockets:{user_id}"',
                'self.key = f"{layer.prefix}:websockets:{user_id}:{os.getpid()}"',
            )
        ],
        [f"{WEBSOCKET_ACCESS}::test_connections_per_user_are_capped_across_web_processes"],
    ),
    Protection(
        "9 websocket: open connections keep counting (refreshed at each revalidation)",
        [
            (
                CONNECTIONS,
                "                same_user[0].refresh_in(pipe, same_user)\n",
                "                pass\n",
            )
        ],
        [f"{WEBSOCKET_ACCESS}::test_connections_per_user_are_capped_across_web_processes"],
    ),
    Protection(
        "9 websocket: a killed web process's connections stop counting",
        [(CONNECTIONS, '            pipe.zremrangebyscore(self.key, "-inf", now)\n', "")],
        [f"{WEBSOCKET_ACCESS}::test_connections_per_user_are_capped_across_web_processes"],
    ),
    Protection(
        "10 fuzzing: malformed cursors are BAD_USER_INPUT, not 500",
        [
            (
                QUERIES,
                'raise BadUserInput(f"Bad pagination argument: {error}") from None',
                "raise",
            )
        ],
        [
            "tests/api/test_query_limits.py::test_a_malformed_page_is_the_clients_mistake",
            "tests/api/test_fuzz_schema.py::test_every_operation_with_a_token",
        ],
    ),
    Protection(
        "10 multipart: variable errors are BAD_USER_INPUT, not masked as 500",
        [
            (
                ERRORS,
                "if original is None or isinstance(original, GraphQLError):",
                "if original is None:",
            )
        ],
        ["tests/uploads/test_multipart_properties.py::test_any_map_shape_is_answered_cleanly"],
    ),
    Protection(
        "10 multipart: duplicate keys are refused, not guessed",
        [
            (MULTIPART, "object_pairs_hook=refuse_duplicate_keys", "object_pairs_hook=dict"),
            (INGRESS, "if name in self.files or name in self.fields_seen:", "if False:"),
            (INGRESS, "if name in self.fields_seen or name in self.files:", "if False:"),
        ],
        ["tests/uploads/test_multipart_properties.py::test_duplicate_keys_are_refused_not_guessed"],
    ),
    Protection(
        "10 multipart: a part mapped to two places is refused",
        [(MULTIPART, "        if len(part_paths) > 1:", "        if False:")],
        [
            "tests/uploads/test_upload_refusals.py::test_malformed_multipart_requests_are_400_with_a_json_body"
        ],
    ),
    Protection(
        "10 deeply nested JSON is a 400, not a 500",
        [(MULTIPART, "    except RecursionError:", "    except ZeroDivisionError:")],
        ["tests/uploads/test_upload_refusals.py::test_deeply_nested_json_is_a_400"],
    ),
    Protection(
        "11 production settings: HSTS from the environment",
        [
            (
                SETTINGS_SECURITY,
                'SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)',
                "SECURE_HSTS_SECONDS = 0",
            )
        ],
        ["tests/ops/test_deploy.py::test_production_settings_pass_check_deploy"],
    ),
    Protection(
        "11 DEBUG is off unless asked for",
        [(SETTINGS_BASE, 'DEBUG = env_bool("DEBUG", False)', 'DEBUG = env_bool("DEBUG", True)')],
        ["tests/ops/test_deploy.py::test_debug_is_off_by_default_and_needs_a_secret_key"],
    ),
    Protection(
        "11 a placeholder or weak SECRET_KEY is refused when DEBUG is off",
        [(SETTINGS_SECURITY, "elif not DEBUG and (", "elif False and (")],
        [
            "tests/ops/test_deploy.py::test_a_placeholder_or_weak_secret_key_is_refused_when_debug_is_off"
        ],
    ),
    Protection(
        "11 a disk failing while an upload arrives is a 503 without OS details",
        [
            (
                ENDPOINT,
                "            except OSError:  # a full or broken disk",
                "            except ZeroDivisionError:  # a full or broken disk",
            )
        ],
        [
            "tests/uploads/test_upload_refusals.py::test_a_storage_failure_is_503_without_os_details[incoming]"
        ],
    ),
    Protection(
        "11 a disk failing while an upload is stored is SERVICE_UNAVAILABLE without OS details",
        [(ERRORS, "    OSError: ErrorCode.SERVICE_UNAVAILABLE,\n", "")],
        [
            "tests/uploads/test_upload_refusals.py::test_a_storage_failure_is_503_without_os_details[stored]"
        ],
    ),
    Protection(
        "11 a damaged file's message never echoes OS error text",
        [("files_app/processors/base.py", '"" if isinstance(error, OSError) else ', "")],
        [
            "tests/processing/test_processors.py::test_a_damaged_file_message_never_echoes_os_error_text"
        ],
    ),
]
