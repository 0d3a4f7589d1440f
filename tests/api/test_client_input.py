"""Numbers a client writes are ASCII digits, everywhere (files_app/numbers.py), and an error
with no code of its own is INTERNAL_SERVER_ERROR. Measured before: `Upload-Length:
²` on /tus/ was a 500 whose body said INVALID_UPLOAD, `str.isdigit()` having taken `²` and
`int()` then raising. The headers are sent to a real uvicorn as raw bytes (`²` is latin-1
0xB2); what uvicorn itself refuses first (a malformed Content-Length) is sent in-process."""

import io
import json

import httpx
import pytest
from django.core.management import CommandError, call_command

from files_app.exceptions import FileServiceError
from files_app.models import File
from schema.errors import EdgeError
from tests.support.graphql import asgi_request
from tests.support.tus import STREAM, TUS, bearer

pytestmark = pytest.mark.django_db(transaction=True)

NOT_DIGITS = [b"\xb2", b"\xb9", b"+10", b"1_0", b"-1", b"1" * 5000]  # int() refuses 4301+ digits
UPLOAD_MANY = "mutation($files: [Upload!]!) { uploadFiles(files: $files) { id } }"
UPLOAD_URL = 'mutation($size: BigInt!) { createUploadUrl(name: "x.bin", size: $size) { url } }'


def code_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize("value", NOT_DIGITS, ids=lambda value: repr(value[:12]))
def test_a_tus_length_or_offset_that_is_not_ascii_digits_is_400(uvicorn_server, token, value):
    tus = f"{uvicorn_server.url}/tus/"
    auth = {**TUS, "Authorization": f"Bearer {token}"}
    created = httpx.post(tus, headers={**auth, "Upload-Length": value})
    assert created.status_code == 400, created.text
    assert code_of(created) == "BAD_REQUEST"
    assert "Upload-Length must be a number" in created.json()["errors"][0]["message"]

    upload = httpx.post(tus, headers={**auth, "Upload-Length": "10"}).headers["Location"]
    patched = httpx.patch(
        upload, headers={**auth, "Upload-Offset": value, "Content-Type": STREAM}, content=b"x"
    )
    assert patched.status_code == 400, patched.text
    assert code_of(patched) == "BAD_REQUEST"


def test_a_map_path_index_that_is_not_ascii_digits_is_invalid_upload(uvicorn_server, token):
    answer = httpx.post(
        f"{uvicorn_server.url}/graphql/",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "operations": json.dumps({"query": UPLOAD_MANY, "variables": {"files": [None]}}),
            "map": json.dumps({"0": ["variables.files.²"]}),
        },
        files={"0": ("x.txt", b"x")},
    )
    assert answer.status_code == 400, answer.text
    assert code_of(answer) == "INVALID_UPLOAD"
    assert "does not exist" in answer.json()["errors"][0]["message"]
    assert File.objects.count() == 0


@pytest.mark.parametrize("length", ["+{}", "{}_0", " {} "])
def test_a_content_length_that_is_not_ascii_digits_is_400(token, length):
    body = json.dumps({"query": "{ files { totalCount } }"}).encode()
    answer = asgi_request(
        "POST",
        "/graphql/",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Length": length.format(len(body)),
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["message"] == "Content-Length is not a number."


@pytest.mark.parametrize("size", [1.5, "²", " 12", True, 2**64, "1_0"], ids=repr)
def test_big_int_takes_whole_numbers_only(gql, size):
    body = gql(UPLOAD_URL, size=size)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "BigInt takes a whole 64-bit number" in error["message"]


@pytest.mark.parametrize("size", [12, "12", 12.0])
def test_big_int_takes_a_number_or_its_digits(gql, size):
    body = gql(UPLOAD_URL, size=size)  # parsed: the service answers (local disk, no S3)
    assert body["errors"][0]["extensions"]["code"] == "DIRECT_UPLOAD_UNAVAILABLE", body


@pytest.mark.parametrize("expiry", ["٣d", "²h", "99999999999999999999w"])
def test_a_token_expiry_takes_ascii_digits_only(user, expiry):
    with pytest.raises(CommandError, match="is not a duration"):
        call_command("create_api_token", user.username, "--expires-in", expiry)


def test_a_token_for_no_one_names_the_user_to_give(db):
    with pytest.raises(CommandError, match="Name the user"):
        call_command("create_api_token", "", stdout=io.StringIO())


# --- an error with no code of its own ----------------------------------------------------------


def test_a_bug_in_the_tus_endpoint_is_a_masked_500_internal_server_error(token, monkeypatch):
    from schema.http import tus

    def broken(request):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(tus, "metadata", broken)
    answer = asgi_request("POST", "/tus/", headers={**bearer(token), "Upload-Length": "10"})
    assert answer.status_code == 500
    assert code_of(answer) == "INTERNAL_SERVER_ERROR"  # it was INVALID_UPLOAD: a client's code
    assert "hunter2" not in answer.text


def test_a_domain_error_without_a_code_is_internal_not_the_clients():
    class Unmapped(FileServiceError):
        pass

    error = EdgeError.from_domain(Unmapped("something the domain forgot to classify"))
    assert (error.code, error.status) == ("INTERNAL_SERVER_ERROR", 500)
    assert "forgot" not in json.dumps(error.body())
