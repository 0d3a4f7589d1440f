"""docs/reliability.md items 31–34. Hostile clients: bytes in flight, the proxy; the pages."""

from tools.protections.paths import (
    COMPOSE,
    CSP_TESTS,
    IN_FLIGHT_TESTS,
    NGINX_TEMPLATE,
    OPERATIONS_TESTS,
    PROBES,
    PROXY_TESTS,
    RECOVERY,
    RESERVATIONS,
    SELECTORS,
    SETTINGS_BASE,
    UPLOAD,
)
from tools.protections.runner import Protection

PROTECTIONS = [
    Protection(
        "32 proxy: X-Forwarded-For is the address the proxy saw, not a chain the client began",
        [
            (
                NGINX_TEMPLATE,
                "proxy_set_header X-Forwarded-For $remote_addr;",
                "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            )
        ],
        [f"{PROXY_TESTS}::test_a_spoofed_forwarded_chain_does_not_dodge_the_login_throttle"],
    ),
    Protection(
        "32 compose: uvicorn believes X-Forwarded-For from the proxy's network alone",
        [
            (
                COMPOSE,
                "FORWARDED_ALLOW_IPS: ${EDGE_SUBNET:-172.30.107.0/24}",
                'FORWARDED_ALLOW_IPS: "*"',
            )
        ],
        [f"{PROXY_TESTS}::test_uvicorn_believes_x_forwarded_for_only_from_the_proxy[compose_web]"],
    ),
    Protection(
        "32 harness and image: uvicorn believes X-Forwarded-For from loopback alone",
        [
            ("tools/processes.py", 'TRUSTED_PROXIES = "127.0.0.1"', 'TRUSTED_PROXIES = "*"'),
            ("Dockerfile", "    FORWARDED_ALLOW_IPS=127.0.0.1\n", '    FORWARDED_ALLOW_IPS="*"\n'),
        ],
        [
            f"{PROXY_TESTS}::test_uvicorn_believes_x_forwarded_for_only_from_the_proxy[upstream]",
            "tests/ops/test_deploy.py::test_the_image_runs_uvicorn_with_the_harness_options",
        ],
    ),
    Protection(
        "32 proxy: the Host header keeps its port (file urls, login and websocket origins)",
        [(NGINX_TEMPLATE, "proxy_set_header Host $http_host;", "proxy_set_header Host $host;")],
        [f"{PROXY_TESTS}::test_the_host_keeps_its_port_for_urls_and_origin_checks"],
    ),
    Protection(
        "33 proxy: /readyz and /metrics are not served through the proxy",
        [
            (NGINX_TEMPLATE, "location = /readyz {", "location = /readyz-passed-on {"),
            (NGINX_TEMPLATE, "location = /metrics {", "location = /metrics-passed-on {"),
        ],
        [f"{PROXY_TESTS}::test_probes_and_metrics_are_not_served_through_the_proxy"],
    ),
    Protection(
        "33 probes: /readyz checks at most once a READINESS_CACHE_SECONDS, one at a time",
        [
            (
                PROBES,
                "if time.monotonic() - self.checked_at < settings.READINESS_CACHE_SECONDS:",
                "if False:",
            ),
            (
                PROBES,
                "if self.running is None or self.running.get_loop() is not loop:",
                "if True:",
            ),
        ],
        [f"{OPERATIONS_TESTS}::test_readiness_is_checked_once_a_second_however_often_it_is_asked"],
    ),
    Protection(
        "34 pages: a Content-Security-Policy on the pages Django serves",
        [(SETTINGS_BASE, '    "schema.http.middleware.content_security_policy",\n', "")],
        [
            f"{CSP_TESTS}::test_the_page_still_works_and_refuses_injected_scripts",
            f"{CSP_TESTS}::test_the_login_page_refuses_injected_scripts",
        ],
    ),
    Protection(
        "31 in flight: the bytes uploads in flight reserved count against the quota",
        [
            (
                SELECTORS,
                '        reserved["total"] or 0,\n',
                "        0,\n",
            )
        ],
        [f"{IN_FLIGHT_TESTS}::test_concurrent_uploads_cannot_pass_the_quota_together"],
    ),
    Protection(
        "31 in flight: an upload's reservation ends in the transaction that stores its rows",
        [(UPLOAD, "    UploadReservation.objects.filter(pk__in=own).delete()\n", "")],
        [f"{IN_FLIGHT_TESTS}::test_an_uploads_reservation_ends_with_its_rows"],
    ),
    Protection(
        "31 in flight: a request releases its reservation when it ends, however it ends",
        [
            (
                RESERVATIONS,
                "            UploadReservation.objects.filter(pk=reservation.pk).delete()\n",
                "            pass\n",
            )
        ],
        [f"{IN_FLIGHT_TESTS}::test_a_request_that_stores_nothing_gives_its_reservation_back"],
    ),
    Protection(
        "31 in flight: a dead web process's reservation stops counting once it expires",
        [
            (
                SELECTORS,
                "UploadReservation.objects.filter(owner=user, expires_at__gt=Now())",
                "UploadReservation.objects.filter(owner=user)",
            )
        ],
        [f"{IN_FLIGHT_TESTS}::test_a_killed_web_process_gives_its_reservation_back"],
    ),
    Protection(
        "31 in flight: the recovery sweep deletes the reservations of dead requests",
        [(RECOVERY, "    upload_reservations_prune()\n", "")],
        [f"{IN_FLIGHT_TESTS}::test_a_killed_web_process_gives_its_reservation_back"],
    ),
    Protection(
        "31 in flight: at most UPLOAD_MAX_CONCURRENT_PER_USER uploads of a user at once",
        [
            (
                RESERVATIONS,
                "(owner_id=owner.pk, in_flight=allowance.uploads_in_flight)",
                "(owner_id=None, in_flight=0)",
            ),
            (RESERVATIONS, "            check_concurrent_uploads(owner_id=file.owner_id)\n", ""),
        ],
        [f"{IN_FLIGHT_TESTS}::test_uploads_at_once_are_capped"],
    ),
]
