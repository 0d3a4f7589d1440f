"""docs/reliability.md items 35–36. GraphQL over HTTP: a GET reads, and is checked as a POST
is. Processors from outside: the built-ins' limits."""

from tools.protections.paths import (
    CELERY_APP,
    ENDPOINT,
    OPERATION,
    OUTSIDE_PROCESSORS,
    PROCESSING,
    PROCESSORS_RUN,
)
from tools.protections.runner import Protection

GRAPHQL_OVER_HTTP_TESTS = "tests/api/test_graphql_over_http.py"

PROTECTIONS = [
    Protection(
        "35 GraphQL over HTTP: a GET never runs a mutation",
        [
            (
                OPERATION,
                '"GET": frozenset({OperationType.QUERY}),',
                '"GET": frozenset({OperationType.QUERY, OperationType.MUTATION}),',
            )
        ],
        [
            f"{GRAPHQL_OVER_HTTP_TESTS}::test_get_never_runs_a_mutation",
            "tests/api/test_newcomer.py::test_a_query_sent_with_get_runs_and_a_mutation_is_refused",
        ],
    ),
    Protection(
        "35 GraphQL over HTTP: a session's GET needs the CSRF token",
        [
            (
                ENDPOINT,
                "auth.authenticated_user(request, csrf_on_every_method=True)",
                "auth.authenticated_user(request)",
            )
        ],
        [f"{GRAPHQL_OVER_HTTP_TESTS}::test_a_session_get_needs_the_csrf_token_as_a_post_does"],
    ),
    Protection(
        "35 GraphQL over HTTP: a GET is authenticated before anything runs",
        [
            (
                ENDPOINT,
                "auth.authenticated_user(request, csrf_on_every_method=True)",
                "auth.authenticate(request, csrf_on_every_method=True)",
            )
        ],
        [f"{GRAPHQL_OVER_HTTP_TESTS}::test_get_is_refused_to_anonymous_clients"],
    ),
    Protection(
        "35 GraphQL over HTTP: a GET's query string counts against the body limit",
        [
            (
                ENDPOINT,
                "refuse_over(len(query_string), limit,",
                "refuse_over(None, limit,",
            )
        ],
        [f"{GRAPHQL_OVER_HTTP_TESTS}::test_a_get_query_string_counts_against_the_body_limit"],
    ),
]

OUTSIDE_TESTS = "tests/processing/test_outside_processors.py"

PROTECTIONS += [
    Protection(
        "36 outside processors: their result is bounded as every result is",
        [(PROCESSORS_RUN, '"data": bounded(result.fields)', '"data": result.fields')],
        [f"{OUTSIDE_TESTS}::test_a_replacement_keeps_the_kind_and_its_result_is_bounded"],
    ),
    Protection(
        "36 outside processors: the bytes have a say, not only the file's name",
        [
            (
                OUTSIDE_PROCESSORS,
                "not self.sniffed_as or sniffed_kind in self.sniffed_as",
                "True",
            )
        ],
        [f"{OUTSIDE_TESTS}::test_bytes_decide_too_an_image_named_md_stays_an_image"],
    ),
    Protection(
        "36 outside processors: a bug's text is logged, never shown",
        [
            (
                PROCESSING,
                """    except Exception:
        logger.exception("Processing file %s failed", file.pk)
        return fail(FailureCode.UNEXPECTED)""",
                """    except Exception as error:
        logger.exception("Processing file %s failed", file.pk)
        return fail(FailureCode.UNEXPECTED, str(error))""",
            )
        ],
        [f"{OUTSIDE_TESTS}::test_a_failing_outside_processor_ends_failed_with_its_code"],
    ),
    Protection(
        "36 outside processors: a worker refuses to start on one it cannot load",
        [
            (
                CELERY_APP,
                "raise SystemExit(1) from None",
                "return",
            )
        ],
        [f"{OUTSIDE_TESTS}::test_a_worker_refuses_to_start_on_a_processor_it_cannot_load"],
    ),
]
