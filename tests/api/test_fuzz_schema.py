"""Schemathesis over the GraphQL schema: every query and mutation with generated arguments,
with and without a token, against the real server. No answer may be a server error."""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

pytestmark = pytest.mark.django_db(transaction=True)

schemathesis.graphql.scalar(
    "BigInt", st.integers(min_value=-(2**40), max_value=2**40).map(nodes.Int)
)
# An upload can't travel in a JSON body: whatever arrives must be refused as INVALID_UPLOAD.
schemathesis.graphql.scalar("Upload", st.text(max_size=10).map(nodes.String))
schemathesis.graphql.scalar("Time", st.times().map(lambda t: nodes.String(t.isoformat())))

FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def assert_no_server_error(response):
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        for error in response.json().get("errors") or []:
            assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", json.dumps(
                error
            )


def fuzz_every_operation(server, token, check, headers) -> int:
    """Generate cases for every query and mutation, send each with `headers`, and `check`
    the answer. (Schemathesis's own pytest plugin does not work with pytest 9, so Hypothesis
    drives its strategies here.)"""
    schema = schemathesis.graphql.from_url(
        f"{server.url}/graphql/", headers={"Authorization": f"Bearer {token}"}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def run(case):
            check(case.call(headers=headers))

        run()
    return len(operations)


def test_every_operation_with_a_token(uvicorn_server, token):
    count = fuzz_every_operation(
        uvicorn_server, token, assert_no_server_error, headers={"Authorization": f"Bearer {token}"}
    )
    assert count >= 6  # files, file, uploadFile, uploadFiles, reprocessFile, deleteFile


def test_every_operation_without_credentials(uvicorn_server, token):
    def refused(response):
        assert_no_server_error(response)
        errors = response.json().get("errors") or []
        assert errors and {e["extensions"]["code"] for e in errors} <= {
            "UNAUTHENTICATED",
            "GRAPHQL_VALIDATION_FAILED",
            "BAD_USER_INPUT",
        }, response.text

    fuzz_every_operation(uvicorn_server, token, refused, headers={})
