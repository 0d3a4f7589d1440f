"""docs/reliability.md items 27–30, hostile clients: answers, bodies, writers, stalled
subscribers."""

from tools.protections.paths import (
    ANSWER_TESTS,
    ANSWERS,
    ASGI,
    DIRECT,
    DIRECT_TESTS,
    EDGE_RESERVATIONS,
    ENDPOINT,
    FANOUT,
    LIVE_SOCKET,
    NGINX_TEMPLATE,
    PACING,
    PROXY_TESTS,
    RESUMABLE,
    SCHEMA,
    SLOW_PROXY_TEST,
    SLOW_TESTS,
    STALLED_TESTS,
    SUBSCRIBER,
    WEBSOCKET,
    WRITERS_TESTS,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "28 bodies: an anonymous JSON request is refused before its body is read",
        [
            (
                ENDPOINT,
                "await with_database(auth.authenticated_user)(request)  # anonymous: 401",
                "await with_database(auth.authenticate)(request)  # anonymous: 401",
            )
        ],
        [f"{SLOW_TESTS}::test_an_anonymous_request_is_refused_before_its_body_and_hung_up_on"],
    ),
    Protection(
        "28 bodies: every request body is read through the pace (endpoint, tus, Django)",
        [(ASGI, "    return paced(application)\n", "    return application\n")],
        [
            f"{SLOW_TESTS}::test_a_stalled_json_body_is_dropped",
            f"{SLOW_TESTS}::test_a_stalled_upload_is_dropped_and_its_part_removed",
            f"{SLOW_TESTS}::test_a_trickled_tus_patch_is_dropped_and_keeps_what_arrived",
            f"{SLOW_TESTS}::test_a_stalled_form_on_a_django_route_is_dropped",
        ],
    ),
    Protection(
        "28 bodies: a silent body is dropped after REQUEST_BODY_IDLE_TIMEOUT, with its part",
        [(PACING, "async with asyncio.timeout(self.credit):", "async with asyncio.timeout(None):")],
        [
            f"{SLOW_TESTS}::test_a_stalled_json_body_is_dropped",
            f"{SLOW_TESTS}::test_a_stalled_upload_is_dropped_and_its_part_removed",
            f"{SLOW_TESTS}::test_a_stalled_form_on_a_django_route_is_dropped",
        ],
    ),
    Protection(
        "28 bodies: a trickle below REQUEST_BODY_MIN_RATE is dropped, never silent as it is",
        [
            (
                PACING,
                "earned = len(body) / self.min_rate if self.min_rate else self.timeout",
                "earned = self.timeout",
            )
        ],
        [
            f"{SLOW_TESTS}::test_a_trickled_upload_is_dropped_and_its_part_removed",
            f"{SLOW_TESTS}::test_a_trickled_tus_patch_is_dropped_and_keeps_what_arrived",
        ],
    ),
    Protection(
        "28 bodies: an answer that leaves the body unread hangs up",
        [(PACING, "                if body.unread:\n", "                if False:\n")],
        [
            f"{SLOW_TESTS}::test_an_anonymous_request_is_refused_before_its_body_and_hung_up_on",
            f"{SLOW_TESTS}::test_a_stalled_json_body_is_dropped",
        ],
    ),
    Protection(
        "28 proxy: unfinished request headers are closed after client_header_timeout",
        [(NGINX_TEMPLATE, "    client_header_timeout 10s;", "    # client_header_timeout 10s;")],
        [SLOW_PROXY_TEST],
    ),
    Protection(
        "28 proxy: a silent body is dropped after client_body_timeout",
        [(NGINX_TEMPLATE, "    client_body_timeout 20s;", "    # client_body_timeout 20s;")],
        [SLOW_PROXY_TEST],
    ),
    Protection(
        "28 proxy: one address holds at most limit_conn requests",
        [(NGINX_TEMPLATE, "    limit_conn per_address 100;", "    # limit_conn per_address 100;")],
        [f"{PROXY_TESTS}::test_one_address_holds_a_bounded_number_of_requests"],
    ),
    Protection(
        "27 answer budget: execution stops where the answer passes GRAPHQL_MAX_ANSWER_BYTES",
        [(ANSWERS, "        if self.spent > limit():", "        if False:")],
        [f"{ANSWER_TESTS}::test_execution_stops_where_the_answer_passes_its_budget"],
    ),
    Protection(
        "27 answer budget: serialising stops at the budget, escapes counted",
        [(ANSWERS, "        if self.left < 0:", "        if False:")],
        [f"{ANSWER_TESTS}::test_escapes_count_against_the_budget"],
    ),
    Protection(
        "27 answer budget: an answer over it is one ANSWER_TOO_LARGE error, never held whole",
        [
            (ANSWERS, "        if self.spent > limit():", "        if False:"),
            (ANSWERS, "        if self.left < 0:", "        if False:"),
        ],
        [f"{ANSWER_TESTS}::test_an_answer_over_its_budget_is_one_error_and_is_never_held_whole"],
    ),
    Protection(
        "27 answer budget: a subscription's event has the same budget",
        [
            (ANSWERS, "        if self.spent > limit():", "        if False:"),
            (
                FANOUT,
                "        return answers.encode(payload)\n",
                "        return answers.encode(payload, 1 << 40)\n",
            ),
            (
                WEBSOCKET,
                "            return answers.encode(data).decode()",
                "            return answers.encode(data, 1 << 40).decode()",
            ),
        ],
        [f"{ANSWER_TESTS}::test_a_subscription_event_over_the_budget_is_one_error_and_it_goes_on"],
    ),
    Protection(
        "27 answer budget: answers are UTF-8, an emoji is 4 bytes (not 12)",
        [
            (
                ANSWERS,
                "        escaped = encode_basestring(value)\n        try:",
                "        escaped = encode_basestring_ascii(value)\n        try:",
            )
        ],
        [f"{ANSWER_TESTS}::test_answers_are_utf8_so_an_emoji_costs_its_4_bytes"],
    ),
    Protection(
        "27 query cost: a list of entries costs more than a scalar (GRAPHQL_MAX_QUERY_COST)",
        [(SCHEMA, "        query_cost_rule(max_cost, page_size, files_per_request),\n", "")],
        [
            "tests/api/test_query_limits.py::test_a_list_of_entries_costs_more_than_a_scalar",
            f"{ANSWER_TESTS}::test_sixteen_copies_of_a_page_of_entries_are_refused_before_they_run",
        ],
    ),
    Protection(
        "27 result caps: strings are capped in UTF-8 bytes, not characters",
        [
            (
                "files_app/processors/__init__.py",
                "else cut(value, MAX_RESULT_STRING_BYTES)",
                "else value[:MAX_RESULT_STRING_BYTES]",
            )
        ],
        [
            "tests/processing/test_processors.py::test_every_result_is_bounded_whatever_the_file_claims",
            f"{ANSWER_TESTS}::test_result_strings_are_capped_in_bytes",
        ],
    ),
    Protection(
        "30 stalled subscribers: a connection over WEBSOCKET_MAX_BUFFERED_BYTES is dropped",
        [
            (
                SUBSCRIBER,
                "        if self.held() <= settings.WEBSOCKET_MAX_BUFFERED_BYTES:",
                "        if True:",
            )
        ],
        [f"{STALLED_TESTS}::test_a_connection_over_its_byte_budget_is_dropped_at_once"],
    ),
    Protection(
        "30 stalled subscribers: an unanswered ping drops the socket (transport.abort)",
        [
            (
                LIVE_SOCKET,
                "    def keepalive_timeout(self) -> None:",
                "    def keepalive_timeout_unused(self) -> None:",
            )
        ],
        [f"{STALLED_TESTS}::test_an_unanswered_ping_drops_the_socket_whatever_waits_in_its_buffer"],
    ),
    Protection(
        "30 stalled subscribers: a frame sent to many subscribers is held once",
        [
            (
                SUBSCRIBER,
                "socket.send_text(self.envelope, payload, SUFFIX)",
                "socket.send_text(self.envelope + payload + SUFFIX)",
            )
        ],
        [f"{STALLED_TESTS}::test_a_frame_sent_to_many_subscribers_is_held_once"],
    ),
    Protection(
        "29 one writer: a tus PATCH sent while another writes the upload is 423, unread",
        [
            (
                RESUMABLE,
                "        reservation = upload_writer_claim(file=upload.file)\n",
                "        reservation = Reservation(pk=None, bytes=0)\n",
            )
        ],
        [
            f"{WRITERS_TESTS}::test_a_racing_patch_is_refused_and_the_processed_bytes_are_served",
            "tests/scale/test_tus_s3.py::test_a_racing_patch_on_s3_is_refused_unread",
        ],
    ),
    Protection(
        "29 one writer: a tus DELETE waits for the PATCH writing the upload (423)",
        [
            (
                RESUMABLE,
                "        if file is not None and upload_writer_live(file_id=file.pk):",
                "        if False:",
            )
        ],
        [f"{WRITERS_TESTS}::test_a_racing_patch_is_refused_and_the_processed_bytes_are_served"],
    ),
    Protection(
        "29 one writer: the writer renews its turn for as long as its request lasts",
        [
            (
                EDGE_RESERVATIONS,
                "await asyncio.sleep(settings.UPLOAD_RESERVATION_SECONDS / 3)  # a schedule",
                "return",
            )
        ],
        [f"{WRITERS_TESTS}::test_a_writer_keeps_its_turn_while_its_request_lasts"],
    ),
    Protection(
        "29 one writer: a writer that lost its turn writes nothing more",
        [
            (
                RESUMABLE,
                "        self.reservation.hold()\n        self.write(chunk)",
                "        self.write(chunk)",
            ),
            (RESUMABLE, "        self.reservation.hold()\n        done = 0", "        done = 0"),
        ],
        [f"{WRITERS_TESTS}::test_a_writer_that_froze_past_its_turn_writes_nothing_more"],
    ),
    Protection(
        "29 direct upload: the POST goes to a staging key, copied to the file's at completion",
        [
            (
                DIRECT,
                "storage.presigned_upload(staging_name(file.pk), size=size",
                "storage.presigned_upload(file.stored_file.name, size=size",
            ),
            (
                DIRECT,
                "    staging, key = staging_name(file.pk), file.stored_file.name",
                "    staging = key = file.stored_file.name",
            ),
            (DIRECT, "        storage.object_copy(staging, key, etag=etag)", "        pass"),
            (
                DIRECT,
                "transaction.on_commit(lambda: staging_delete_quietly(staging), robust=True)",
                "pass",
            ),
        ],
        [f"{DIRECT_TESTS}::test_a_post_after_completion_cannot_replace_the_processed_bytes"],
    ),
]
