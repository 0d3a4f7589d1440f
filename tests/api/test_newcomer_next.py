"""What a newcomer hits next, each tried on a real uvicorn as it was reported:
`/graphql` without its slash (Apollo's default), a token sent without the `Bearer` scheme, a
file sent as JSON, a multipart request without `map`."""

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.support.operations import UPLOAD_ID as UPLOAD
from tests.support.tus import TUS
from tests.support.wsclient import PROTOCOL, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"query": "{ files { totalCount } }"}
SPEC = "https://github.com/jaydenseric/graphql-multipart-request-spec"


def error_of(response: httpx.Response) -> dict:
    return response.json()["errors"][0]


def upload_form(operations: dict, file_map: dict | None) -> dict:
    fields = {"operations": json.dumps(operations)}
    if file_map is not None:
        fields["map"] = json.dumps(file_map)
    return fields


# --- /graphql without its trailing slash ------------------------------------------------------


def test_graphql_without_its_slash_is_served_like_graphql(uvicorn_server, token):
    url = f"{uvicorn_server.url}/graphql"
    auth = {"Authorization": f"Bearer {token}"}
    bare = httpx.post(url, content=b"", headers={**auth, "Content-Type": "application/json"})
    assert bare.status_code == 400 and "errors" in bare.json()  # JSON, not Django's 500 page
    query = httpx.post(url, json=FILES, headers=auth)
    assert query.status_code == 200 and query.json() == {"data": {"files": {"totalCount": 0}}}
    upload = httpx.post(
        url,
        headers=auth,
        data=upload_form({"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}),
        files={"0": ("no-slash.txt", b"sent to /graphql")},
    )
    assert upload.status_code == 200 and "id" in upload.json()["data"]["uploadFile"], upload.text
    graphiql = httpx.get(url, headers={"Accept": "text/html"})
    assert graphiql.status_code == 200 and "GraphiQL" in graphiql.text


async def test_a_websocket_to_graphql_without_its_slash_subscribes(uvicorn_server, token):
    url = uvicorn_server.ws_url.removesuffix("/")
    assert url.endswith("/graphql")
    subscription = await Subscription.open(url, token=token)
    await subscription.close()


async def test_a_websocket_to_another_path_is_refused_at_the_handshake(uvicorn_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            uvicorn_server.ws_url.replace("/graphql/", "/nowhere/"), subprotocols=[PROTOCOL]
        )
    assert refused.value.response.status_code == 403  # not a 500 with a traceback


# --- the Bearer scheme --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "Token ", "JWT "])
def test_a_token_without_the_bearer_scheme_is_401_naming_bearer(uvicorn_server, token, scheme):
    auth = {"Authorization": f"{scheme}{token}"}
    answers = {
        "query": httpx.post(f"{uvicorn_server.url}/graphql/", json=FILES, headers=auth),
        "upload": httpx.post(
            f"{uvicorn_server.url}/graphql/",
            headers=auth,
            data=upload_form(
                {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}
            ),
            files={"0": ("x.txt", b"x")},
        ),
        "tus": httpx.post(
            f"{uvicorn_server.url}/tus/", headers={**TUS, **auth, "Upload-Length": "10"}
        ),
        "download": httpx.get(f"{uvicorn_server.url}/files/{uuid.uuid4()}/download", headers=auth),
    }
    for route, answer in answers.items():
        assert answer.status_code == 401, (route, answer.text)
        error = error_of(answer)
        assert error["extensions"]["code"] == "UNAUTHENTICATED", route
        assert "`Bearer`" in error["message"], (route, error)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer"), route


def test_a_proxy_login_is_not_taken_for_a_token(uvicorn_server):
    """`Basic` is what a proxy's own login (nginx auth_basic) sends on: read as anonymous (a
    401 for not being logged in), not as a token sent in the wrong scheme."""
    answer = httpx.post(
        f"{uvicorn_server.url}/graphql/", json=FILES, headers={"Authorization": "Basic dTpw"}
    )
    assert answer.status_code == 401
    error = error_of(answer)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "`Bearer`" not in error["message"], error  # anonymous, not a wrong scheme


async def test_a_websocket_token_without_the_bearer_scheme_is_closed_naming_bearer(
    uvicorn_server, token
):
    async with websockets.connect(uvicorn_server.ws_url, subprotocols=[PROTOCOL]) as socket:
        payload = {"Authorization": f"Token {token}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd.code == 4401  # final for graphql-ws clients: no retry loop
    assert "Bearer" in closed.value.rcvd.reason


# --- a file sent as JSON, a multipart request without `map` -------------------------------------


def test_a_file_sent_as_json_names_the_variable_and_the_multipart_spec(uvicorn_server, token):
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{uvicorn_server.url}/graphql/"
    as_variable = httpx.post(
        url, headers=auth, json={"query": UPLOAD, "variables": {"file": "hello"}}
    )
    error = error_of(as_variable)
    assert error["extensions"]["code"] == "INVALID_UPLOAD"
    assert "$file" in error["message"] and SPEC in error["message"], error
    inline = httpx.post(
        url, headers=auth, json={"query": 'mutation { uploadFile(file: "hello") { id } }'}
    )
    error = error_of(inline)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # an invalid document
    assert "variable" in error["message"] and SPEC in error["message"], error


def test_a_multipart_request_without_map_says_map_is_missing(uvicorn_server, token):
    answer = httpx.post(
        f"{uvicorn_server.url}/graphql/",
        headers={"Authorization": f"Bearer {token}"},
        data=upload_form({"query": UPLOAD, "variables": {"file": None}}, None),
        files={"0": ("x.txt", b"x")},
    )
    assert answer.status_code == 400
    error = error_of(answer)
    assert error["extensions"]["code"] == "INVALID_UPLOAD"
    assert "The `map` field is missing" in error["message"] and SPEC in error["message"]
