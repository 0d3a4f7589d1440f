"""docs/reliability.md item 35. GraphQL over HTTP: a GET reads, and is checked as a POST is."""

from tools.protections.paths import ENDPOINT, OPERATION
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
            "tests/test_newcomer.py::test_a_query_sent_with_get_runs_and_a_mutation_is_refused",
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
