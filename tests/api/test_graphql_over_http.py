"""GraphQL over HTTP as the spec has it (schema/http/operation.py), in-process through the real
ASGI application: the media type negotiated from `Accept`, the status of a request that never
executed, the parameters' types, and GET for queries only. The spec's own audit runs against
the real server in test_graphql_http_audit.py."""

import json

import pytest

from files_app.models import File
from schema.graphql.ids import encode_file_id
from tests.support.files import make_file
from tests.support.graphql import GraphQL, asgi_request

pytestmark = pytest.mark.django_db

RESPONSE = "application/graphql-response+json"
JSON = "application/json"
FILES = "{ files { totalCount } }"
TYPE = "query Type($name: String!) { __type(name: $name) { name } }"


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (RESPONSE, RESPONSE),
        (f"{RESPONSE}, {JSON};q=0.9", RESPONSE),  # Apollo Client 4
        (f"{RESPONSE}, application/graphql+json, {JSON}, text/event-stream", RESPONSE),  # urql
        (f"{JSON}, {RESPONSE};q=0.5", JSON),
        (f"{RESPONSE};q=0, */*", JSON),
        (f"{RESPONSE};q=nonsense, */*", JSON),
        ("text/html", JSON),  # nothing we have: the header is disregarded, no 406
    ],
)
def test_the_media_type_follows_accept(gql, accept, media_type):
    answer = gql.post(json={"query": FILES}, headers={"Accept": accept} if accept else {})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == media_type
    assert answer.json() == {"data": {"files": {"totalCount": 0}}}


NEVER_EXECUTED = [
    pytest.param({"query": "{ files { totalCount "}, "GRAPHQL_VALIDATION_FAILED", id="parse"),
    pytest.param({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {"query": TYPE, "variables": {"name": 5}}, "BAD_USER_INPUT", id="variable coercion"
    ),
]


@pytest.mark.parametrize(("operation", "code"), NEVER_EXECUTED)
def test_a_request_that_never_executed_is_400_without_data_for_graphql_response_json(
    gql, operation, code
):
    answer = gql.post(json=operation, headers={"Accept": RESPONSE})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == RESPONSE
    body = answer.json()
    assert "data" not in body and codes(body) == [code]


@pytest.mark.parametrize(("operation", "code"), NEVER_EXECUTED)
def test_application_json_answers_them_200_with_null_data_as_before(gql, operation, code):
    """What Apollo Client 3, gql and the page have always been given."""
    answer = gql.post(json=operation, headers={"Accept": JSON})
    assert answer.status_code == 200
    assert answer.json()["data"] is None and codes(answer.json()) == [code]


def test_a_field_error_keeps_its_data_and_200_for_graphql_response_json(gql):
    answer = gql.post(
        json={"query": '{ files { totalCount } file(id: "not an id") { id } }'},
        headers={"Accept": RESPONSE},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] == {"files": {"totalCount": 0}, "file": None}
    assert codes(body) == ["BAD_USER_INPUT"]


PARAMETER_TYPES = {"query": str, "operationName": str, "variables": dict, "extensions": dict}
WRONG_TYPES = [
    (name, value)
    for name, expected in PARAMETER_TYPES.items()
    for value in ({"obj": "ect"}, 0, False, ["array"], "string")
    if not isinstance(value, expected)
]


@pytest.mark.parametrize(("name", "value"), WRONG_TYPES)
def test_parameters_of_the_wrong_type_are_400(gql, name, value):
    operation = {"query": FILES, name: value}
    for accept in (JSON, RESPONSE):
        answer = gql.post(json=operation, headers={"Accept": accept})
        assert answer.status_code == 400, (accept, answer.content)
        assert codes(answer.json()) == ["BAD_REQUEST"] and f"`{name}`" in answer.text


def test_extensions_as_an_object_are_accepted(gql):
    answer = gql.post(json={"query": FILES, "extensions": {"persistedQuery": None}})
    assert answer.json() == {"data": {"files": {"totalCount": 0}}}


# --- GET ------------------------------------------------------------------------------------


def test_get_runs_a_query_with_url_encoded_variables_and_extensions(gql):
    for accept in (JSON, RESPONSE):
        answer = gql.get(
            {
                "query": TYPE,
                "variables": json.dumps({"name": "File"}),
                "extensions": json.dumps({}),
                "operationName": "Type",
            },
            headers={"Accept": accept},
        )
        assert answer.status_code == 200 and answer.headers["Content-Type"] == accept
        assert answer.json() == {"data": {"__type": {"name": "File"}}}


@pytest.mark.parametrize(
    "params",
    [
        {"query": TYPE, "variables": "{not json"},
        {"query": TYPE, "variables": "[1]"},
        {"query": FILES, "extensions": '"a string"'},
        [("query", FILES), ("query", "{ __typename }")],
    ],
    ids=["variables not JSON", "variables not an object", "extensions a string", "query twice"],
)
def test_get_refuses_malformed_parameters(gql, params):
    answer = gql.get(params)
    assert answer.status_code == 400 and codes(answer.json()) == ["BAD_REQUEST"]


def test_get_never_runs_a_mutation(gql, user):
    file = make_file(user, b"kept", name="kept.txt")
    delete = f'mutation {{ deleteFile(id: "{encode_file_id(file.pk)}") }}'
    for params in (
        {"query": delete},
        {
            "query": f"query Q {{ __typename }} {delete.replace('mutation', 'mutation M')}",
            "operationName": "M",
        },
    ):
        for accept in (JSON, RESPONSE):
            answer = gql.get(params, headers={"Accept": accept})
            assert answer.status_code == 405, answer.content
            assert answer.headers["Allow"] == "POST"
            assert codes(answer.json()) == ["BAD_REQUEST"]
    assert File.objects.filter(pk=file.pk).exists()
    assert gql.post(json={"query": delete}).json() == {
        "data": {"deleteFile": encode_file_id(file.pk)}
    }


def test_get_is_refused_to_anonymous_clients():
    answer = asgi_request("GET", "/graphql/?query=%7B__typename%7D")
    assert answer.status_code == 401 and codes(answer.json()) == ["UNAUTHENTICATED"]


def test_a_session_get_needs_the_csrf_token_as_a_post_does(client, user):
    """A cross-site page can make a browser send a GET with its cookies (an `<img>`): the
    query is not run for it."""
    client.force_login(user)
    browser = GraphQL(client)
    forged = browser.get({"query": FILES})
    assert forged.status_code == 403 and codes(forged.json()) == ["FORBIDDEN"]
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")  # GraphiQL: sets the csrftoken cookie
    assert page.status_code == 200
    allowed = browser.get(
        {"query": FILES}, headers={"X-CSRFToken": page.cookies["csrftoken"].value}
    )
    assert allowed.json() == {"data": {"files": {"totalCount": 0}}}


def test_a_get_query_string_counts_against_the_body_limit(gql, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    assert gql.get({"query": FILES}).status_code == 200
    answer = gql.get({"query": FILES + " " * 200})
    assert answer.status_code == 413 and codes(answer.json()) == ["BAD_USER_INPUT"]
