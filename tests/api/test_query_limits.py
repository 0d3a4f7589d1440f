"""Query limits: depth, aliases, tokens, page size, introspection switch, subscriptions per
connection; reprocessing counts against the upload rate. Each refused request gets a code,
never a 500."""

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import websockets
from django.utils import timezone

from files_app import selectors, services
from files_app.models import File, FileStatus, ReprocessRequest
from tests.support.operations import UPLOAD_ID
from tests.support.processes import Server
from tests.support.wsclient import PROTOCOL

pytestmark = pytest.mark.django_db


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def test_too_deep_queries_are_refused(gql, settings):
    settings.GRAPHQL_MAX_QUERY_DEPTH = 2
    body = gql("{ files { edges { node { id } } } }")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert "errors" not in gql("{ files { totalCount } }")


def test_too_many_aliases_are_refused(gql, settings):
    too_many = settings.GRAPHQL_MAX_ALIASES + 1
    fields = " ".join(f"a{i}: files {{ totalCount }}" for i in range(too_many))
    assert codes(gql(f"{{ {fields} }}")) == ["GRAPHQL_VALIDATION_FAILED"]
    allowed = " ".join(f"a{i}: files {{ totalCount }}" for i in range(3))
    assert "errors" not in gql(f"{{ {allowed} }}")


ENTRIES_PAGE = (
    "files(first: 100) { edges { node { result { ... on ArchiveResult { entries } } } } }"
)
SCALARS_PAGE = "files(first: 100) { totalCount edges { node { size version } } }"


def test_a_list_of_entries_costs_more_than_a_scalar(gql, settings):
    """What a query could return at most is counted before it runs (schema/graphql/cost.py): four
    pages of archive entries could be 78 MiB; 15 pages of numbers, a few MiB."""
    entries = " ".join(f"a{n}: {ENTRIES_PAGE}" for n in range(4))
    body = gql(f"{{ {entries} }}")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    assert "could return up to 77.6 MiB" in body["errors"][0]["message"], body
    assert "errors" not in gql(f"{{ {ENTRIES_PAGE} }}")
    scalars = " ".join(f"a{n}: {SCALARS_PAGE}" for n in range(settings.GRAPHQL_MAX_ALIASES))
    assert "errors" not in gql(f"{{ {scalars} }}")
    # A fragment, a smaller page and a variable page are counted too.
    fragment = "fragment E on ArchiveResult { entries }"
    spread = " ".join(
        f"a{n}: files(first: 100) {{ edges {{ node {{ result {{ ...E }} }} }} }}" for n in range(4)
    )
    assert codes(gql(f"{{ {spread} }} {fragment}")) == ["GRAPHQL_VALIDATION_FAILED"]
    small = " ".join(f"a{n}: {ENTRIES_PAGE.replace('100', '10')}" for n in range(4))
    assert "errors" not in gql(f"{{ {small} }}")
    variable = " ".join(f"a{n}: {ENTRIES_PAGE.replace('100', '$n')}" for n in range(4))
    assert codes(gql(f"query($n: Int) {{ {variable} }}", n=1)) == ["GRAPHQL_VALIDATION_FAILED"]


def test_every_list_field_has_a_bound():
    """A list field the cost cannot bound would count as one item: each must be in
    schema/graphql/cost.py's LIST_ITEMS, or be a connection's `edges` (its bound is the page)."""
    from graphql import is_object_type

    from schema.graphql.api import schema
    from schema.graphql.cost import EDGES, LIST_ITEMS, is_list

    unbounded = [
        (type_.name, name)
        for type_ in schema._schema.type_map.values()
        if is_object_type(type_) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if is_list(field.type)
        and (type_.name, name) not in LIST_ITEMS
        and not (name == EDGES and type_.name.endswith("Connection"))
    ]
    assert unbounded == []


def test_too_many_tokens_are_refused(gql, settings):
    fields = " ".join("__typename" for _ in range(settings.GRAPHQL_MAX_TOKENS))
    body = gql(f"{{ {fields} }}")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "tokens" in body["errors"][0]["message"]


def test_page_size_is_capped(gql, settings):
    body = gql(
        "query($n: Int) { files(first: $n) { totalCount } }", n=settings.GRAPHQL_MAX_PAGE_SIZE + 1
    )
    assert codes(body) == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize(
    "page",
    [
        {"after": "not base64!"},
        {"before": "b3RoZXI6MQ=="},  # the latter: "other:1"
        {"after": "YXJyYXljb25uZWN0aW9uOng="},
        {"first": -1},
        {"last": -1},  # "arrayconnection:x"
    ],
)
def test_a_malformed_page_is_the_clients_mistake(gql, page):
    """Raised as BadUserInput where the page is checked (schema/graphql/queries.py), not
    guessed from where Strawberry raised it."""
    body = gql(
        "query($after: String, $before: String, $first: Int, $last: Int) {"
        " files(after: $after, before: $before, first: $first, last: $last)"
        " { totalCount } }",
        **page,
    )
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert "pagination" in body["errors"][0]["message"]


def test_introspection_is_on_by_default(gql):
    assert gql("{ __schema { queryType { name } } }")["data"]["__schema"]["queryType"] == {
        "name": "Query"
    }


def test_introspection_can_be_turned_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    assert set(codes(gql("{ __schema { queryType { name } } }"))) == {"GRAPHQL_VALIDATION_FAILED"}
    assert gql("{ __typename }")["data"] == {"__typename": "Query"}


SMALL_PAGE = 3  # unlike the library's own default cap (100), so the setting is what is tested


@pytest.mark.django_db(transaction=True)
def test_production_switches_turn_off_graphiql_and_introspection(process_logs, token):
    server = Server(
        "uvicorn",
        process_logs,
        {
            "GRAPHQL_GRAPHIQL": "0",
            "GRAPHQL_INTROSPECTION": "0",
            "GRAPHQL_MAX_PAGE_SIZE": str(SMALL_PAGE),
        },
    )
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    try:
        ide = httpx.get(f"{server.url}/graphql/", headers={"Accept": "text/html"})
        assert ide.status_code == 404 and "graphiql" not in ide.text.lower()
        introspection = api.post("/graphql/", json={"query": "{ __schema { types { name } } }"})
        assert set(codes(introspection.json())) == {"GRAPHQL_VALIDATION_FAILED"}
        page = "query($n: Int) { files(first: $n) { totalCount } }"
        for size, expected in ((SMALL_PAGE, []), (SMALL_PAGE + 1, ["BAD_USER_INPUT"])):
            answer = api.post("/graphql/", json={"query": page, "variables": {"n": size}})
            assert codes(answer.json()) == expected, answer.text
    finally:
        api.close()
        server.stop()


def test_graphiql_is_served_by_default(client):
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and "graphiql" in page.content.decode().lower()


def test_graphiql_is_our_own_bundle_under_a_strict_csp(client):
    """Nothing from a CDN, and nothing but our own scripts may run or be fetched."""
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    policy = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == policy["connect-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    html = page.content.decode()
    assert "https://" not in html and "http://" not in html  # no CDN
    assert "<script>" not in html  # no inline script: the policy would refuse it
    assert "csrftoken" in page.cookies  # GraphiQL sends it back as X-CSRFToken


def test_graphiql_says_when_it_is_not_built(client, monkeypatch, tmp_path):
    from schema.http import views

    monkeypatch.setattr(views, "GRAPHIQL_BUNDLE", tmp_path / "graphiql.js")
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "GraphiQL is not built" in page.content.decode() and b"<script" not in page.content


@pytest.mark.django_db(transaction=True)
async def test_subscriptions_per_connection_are_limited(uvicorn_server, token, settings):
    async with websockets.connect(uvicorn_server.ws_url, subprotocols=[PROTOCOL]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        limit = settings.GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION
        for operation in range(limit + 1):
            await socket.send(
                json.dumps(
                    {
                        "id": str(operation),
                        "type": "subscribe",
                        "payload": {"query": "subscription { fileUpdates { id } }"},
                    }
                )
            )
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert message["type"] == "error" and message["id"] == str(limit)
    assert "limit" in message["payload"][0]["message"]


def test_syntax_errors_have_a_code(gql):
    assert codes(gql("{ files { ")) == ["GRAPHQL_VALIDATION_FAILED"]


def test_unexpected_errors_are_masked(gql, monkeypatch):
    from files_app import selectors

    def broken(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(selectors, "file_list", broken)
    body = gql("{ files { totalCount } }")
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "hunter2" not in json.dumps(body)


def test_a_bug_outside_graphql_execution_is_a_masked_json_500(gql, monkeypatch):
    from schema.http import endpoint

    def broken(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(endpoint, "load_json", broken)
    response = gql.post(json={"query": "{ files { totalCount } }"})
    assert response.status_code == 500
    assert codes(response.json()) == ["INTERNAL_SERVER_ERROR"]
    assert "hunter2" not in response.text


REPROCESS = "mutation($id: ID!) { reprocessFile(id: $id) { id status } }"


def test_reprocessing_counts_against_the_rate_limit(
    gql, other_gql, user, settings, django_assert_num_queries
):
    settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 3
    file_id = gql.upload(UPLOAD_ID, {"file": ("a.txt", b"x")}, {"file": None}).json()["data"][
        "uploadFile"
    ]["id"]
    files = File.objects.filter(owner=user)
    for _ in range(2):  # the upload and two reprocesses: the three a minute allowed
        files.update(status=FileStatus.DONE)
        assert gql(REPROCESS, id=file_id)["data"]["reprocessFile"]["status"] == "PENDING"
    files.update(status=FileStatus.DONE)
    refused = gql(REPROCESS, id=file_id)
    assert codes(refused) == ["RATE_LIMITED"]
    assert refused["errors"][0]["message"] == services.upload.rate_limited().args[0]
    assert files.get().status == FileStatus.DONE  # nothing queued
    # Uploads and reprocesses counted together; the bytes of uploads in flight beside them.
    with django_assert_num_queries(2):
        usage = selectors.upload_usage(user=user, since=timezone.now() - timedelta(minutes=1))
    assert usage.recent_files == 3
    # Reprocesses count against uploads too; the limit is per user.
    refused_upload = gql.upload(UPLOAD_ID, {"file": ("b.txt", b"x")}, {"file": None})
    assert codes(refused_upload.json()) == ["RATE_LIMITED"]
    assert (
        "errors"
        not in other_gql.upload(UPLOAD_ID, {"file": ("c.txt", b"x")}, {"file": None}).json()
    )
    # Out of the window: the sweep deletes the records, and the user may reprocess again.
    assert ReprocessRequest.objects.filter(user=user).count() == 2
    File.objects.update(uploaded_at=timezone.now() - timedelta(minutes=5))
    services.files_recover(now=timezone.now() + timedelta(minutes=1, seconds=1))
    assert not ReprocessRequest.objects.exists()
    assert gql(REPROCESS, id=file_id)["data"]["reprocessFile"]["status"] == "PENDING"
