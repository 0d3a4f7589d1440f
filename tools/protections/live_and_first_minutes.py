"""docs/reliability.md items 19–21. Live fan-out, RabbitMQ, the first ten minutes."""

from tools.protections.paths import (
    ASGI,
    COALESCING_TESTS,
    CONNECTIONS,
    ENDPOINT,
    FANOUT,
    FANOUT_TESTS,
    LEASE,
    LIVE_SOCKET,
    LOCALRUN,
    LOCALRUN_TESTS,
    NEWCOMER_NEXT_TESTS,
    NEWCOMER_TESTS,
    OPERATION,
    RABBITMQ_TESTS,
    SETTINGS_CHANNELS,
    SUBSCRIBER,
    UPDATES,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "19 live: subscribers with the same document share one execution",
        [
            (
                FANOUT,
                "classes[subscriber.class_key()].append(subscriber)",
                "classes[id(subscriber)].append(subscriber)",
            )
        ],
        [f"{FANOUT_TESTS}::test_subscribers_with_the_same_document_share_one_execution"],
    ),
    Protection(
        "19 live: rights classes never share a result",
        [
            (
                SUBSCRIBER,
                "return (self.document, sees_all, origin(self.consumer))",
                "return (self.document, origin(self.consumer))",
            )
        ],
        [f"{FANOUT_TESTS}::test_rights_classes_never_share_a_result"],
    ),
    Protection(
        "19 live: a slow subscriber's progress is merged, its final state kept",
        [(SUBSCRIBER, 'else state["status"])', 'else state["status"], state["version"])')],
        [
            f"{FANOUT_TESTS}::"
            "test_a_slow_subscriber_is_isolated_its_progress_merged_its_final_state_kept"
        ],
    ),
    Protection(
        "19 live: a slow subscriber does not hold up the others",
        [
            (
                FANOUT,
                "                subscriber.offer(state, payload)",
                "                await subscriber.consumer.send(\n"
                "                    text_data=subscriber.envelope % payload)",
            )
        ],
        [
            f"{FANOUT_TESTS}::"
            "test_a_slow_subscriber_is_isolated_its_progress_merged_its_final_state_kept"
        ],
    ),
    Protection(
        "19 live: a subscriber too far behind is closed 1013",
        [
            (
                SUBSCRIBER,
                "if len(self.pending) > settings.WEBSOCKET_OUTBOX_LIMIT and self.closing is None:",
                "if False:",
            )
        ],
        [f"{FANOUT_TESTS}::test_a_subscriber_too_far_behind_is_closed_1013"],
    ),
    Protection(
        "19 live: a disconnect storm uncounts connections over one pooled Redis connection",
        [
            (
                CONNECTIONS,
                "loop_local(Removals).add(self)",
                "asyncio.ensure_future(self.redis.zrem(self.key, self.connection_id))",
            )
        ],
        [
            "tests/live/test_connection_counts.py::test_a_disconnect_storm_reuses_one_pooled_connection"
        ],
    ),
    Protection(
        "19 live: events wait behind the current state a subscription with ids is sent first",
        [(UPDATES, "        subscriber.hold()  # events wait", "        pass  # events wait")],
        [f"{FANOUT_TESTS}::test_the_current_state_goes_out_before_an_event_that_overtook_its_read"],
    ),
    Protection(
        "19 live: events taken together reach a subscriber in one write",
        [(FANOUT, "                if not self.coalescing():", "                if True:")],
        [f"{COALESCING_TESTS}::test_events_taken_together_reach_a_subscriber_in_one_write"],
    ),
    Protection(
        "19 live: a frame sent through ASGI goes after the events corked before it",
        [(LIVE_SOCKET, "            self.live.write_corked()\n", "            pass\n")],
        [
            f"{COALESCING_TESTS}::"
            "test_a_frame_sent_through_asgi_goes_after_the_events_written_before_it"
        ],
    ),
    Protection(
        "20 RabbitMQ: a killed worker's file is finished by the other worker within seconds",
        [
            (
                "files_app/tasks.py",
                "redelivered = takeover or bool((self.request.delivery_info",
                "redelivered = takeover and bool((self.request.delivery_info",
            )
        ],
        [f"{RABBITMQ_TESTS}::test_a_killed_workers_file_is_finished_by_the_other_within_seconds"],
    ),
    Protection(
        "20 RabbitMQ: a redelivered task takes a file over once its run missed a renewal",
        [
            (
                LEASE,
                "Q(status=FileStatus.PROCESSING) & (LEASE_LAPSED | lease_overdue())\n",
                "Q(status=FileStatus.PROCESSING) & LEASE_LAPSED\n",
            )
        ],
        [
            f"{RABBITMQ_TESTS}::test_a_redelivered_task_takes_over_only_a_run_that_missed_a_renewal",
            f"{RABBITMQ_TESTS}::test_a_killed_workers_file_is_finished_by_the_other_within_seconds",
        ],
    ),
    Protection(
        "20 RabbitMQ: a redelivered task leaves a run that renews in time alone",
        [
            (
                LEASE,
                "Q(status=FileStatus.PROCESSING) & (LEASE_LAPSED | lease_overdue())\n",
                "Q(status=FileStatus.PROCESSING)\n",
            )
        ],
        [f"{RABBITMQ_TESTS}::test_a_redelivered_task_takes_over_only_a_run_that_missed_a_renewal"],
    ),
    Protection(
        "20 events: the channel layer shards across every CHANNEL_REDIS_HOSTS server",
        [
            (
                SETTINGS_CHANNELS,
                "for address in CHANNEL_REDIS_HOSTS",
                "for address in CHANNEL_REDIS_HOSTS[:1]",
            )
        ],
        ["tests/scale/test_events_across_processes.py"],
    ),
    Protection(
        "20 compose: the proxy streams uploads to the web replicas unbuffered",
        [("deploy/nginx.conf.template", "    proxy_request_buffering off;\n", "")],
        ["tests/ops/test_compose.py::test_the_proxy_config_is_valid_nginx"],
    ),
    Protection(
        "21 newcomer: a subscription in GET /graphql/ is SUBSCRIPTION_OVER_HTTP, not a 500",
        [
            (
                OPERATION,
                '"GET": frozenset({OperationType.QUERY}),',
                '"GET": frozenset({OperationType.QUERY, OperationType.SUBSCRIPTION}),',
            )
        ],
        [f"{NEWCOMER_TESTS}::test_a_subscription_sent_with_get_says_where_subscriptions_run"],
    ),
    Protection(
        "21 newcomer: a subscription POSTed over HTTP says where subscriptions run",
        [
            (
                ENDPOINT,
                "raise EdgeError.subscription_over_http(request) from None",
                'raise EdgeError("Not allowed.", ErrorCode.BAD_REQUEST) from None',
            )
        ],
        [f"{NEWCOMER_TESTS}::test_a_subscription_posted_over_http_says_where_subscriptions_run"],
    ),
    Protection(
        "21 make run: SIGHUP and SIGTERM stop everything, like Ctrl-C",
        [
            (
                LOCALRUN,
                "STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)",
                "STOP_SIGNALS = (signal.SIGINT,)",
            )
        ],
        [
            f"{LOCALRUN_TESTS}::test_closing_the_terminal_stops_everything_once",
            f"{LOCALRUN_TESTS}::test_sigterm_while_starting_stops_the_embedded_redis",
        ],
    ),
    Protection(
        "21 make run: the web server and worker are stopped once, by make run alone",
        [(LOCALRUN, "Process(command, new_session=True)", "Process(command)")],
        [f"{LOCALRUN_TESTS}::test_closing_the_terminal_stops_everything_once"],
    ),
    Protection(
        "21 newcomer: /graphql without its slash is served as /graphql/, not a 500",
        [(ASGI, "if path == API_PATH_UNSLASHED:", "if False:")],
        [f"{NEWCOMER_NEXT_TESTS}::test_graphql_without_its_slash_is_served_like_graphql"],
    ),
    Protection(
        "21 newcomer: a token without the Bearer scheme is a 401 naming Bearer",
        [("schema/auth.py", "        refuse_other_schemes(header)\n", "")],
        [f"{NEWCOMER_NEXT_TESTS}::test_a_token_without_the_bearer_scheme_is_401_naming_bearer"],
    ),
]
