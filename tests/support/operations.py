"""The GraphQL documents several test modules send, and sending an upload to a real server
as an API client does (a GraphQL multipart request with a bearer token)."""

import json

import httpx

from files_app.models import FileStatus

FILE_FIELDS = (
    "id name size status progress sha256 contentType version error failureCode processed url"
)
SUBSCRIBE = f"subscription($ids: [ID!]) {{ fileUpdates(ids: $ids) {{ {FILE_FIELDS} }} }}"
UPLOAD = f"mutation($file: Upload!) {{ uploadFile(file: $file) {{ {FILE_FIELDS} }} }}"
# The smallest selections: an upload's id, and every change to all of a user's files.
UPLOAD_ID = "mutation($file: Upload!) { uploadFile(file: $file) { id } }"
WATCH_ALL = "subscription { fileUpdates { id status version } }"
UPLOAD_TIMEOUT_SECONDS = 60


def upload_request(token: str, name: str, content: bytes, query: str = UPLOAD) -> dict:
    """httpx keyword arguments of one `uploadFile` multipart request."""
    return {
        "headers": {"Authorization": f"Bearer {token}"},
        "data": {
            "operations": json.dumps({"query": query, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": (name, content)},
        "timeout": UPLOAD_TIMEOUT_SECONDS,
    }


def uploaded(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["uploadFile"]


async def upload(server, token: str, name: str, content: bytes) -> dict:
    """One file through `server`; returns the file as `uploadFile` answered it."""
    async with httpx.AsyncClient() as client:
        return uploaded(
            await client.post(f"{server.url}/graphql/", **upload_request(token, name, content))
        )


def upload_blocking(server, token: str, name: str, content: bytes) -> dict:
    """`upload` for tests that block on processes, with no event loop of their own."""
    return uploaded(
        httpx.post(f"{server.url}/graphql/", **upload_request(token, name, content, UPLOAD_ID))
    )


def is_final(file: dict) -> bool:
    return file["status"] in (FileStatus.DONE, FileStatus.FAILED)
