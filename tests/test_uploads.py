"""Limits and bad input: a clear error with a code, never a 500, and nothing left behind."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from files_app.models import File
from files_app.services import sanitize_file_name

pytestmark = pytest.mark.django_db

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id name size } }"
UPLOAD_MANY = "mutation($files: [Upload!]!) { uploadFiles(files: $files) { id name } }"


def stored_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def temp_files() -> list[Path]:
    return [p for p in Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir() if p.is_file()]


@pytest.fixture(autouse=True)
def nothing_left_behind_unless_stored():
    before = set(stored_files())
    yield
    assert temp_files() == [], "temporary upload files must not outlive the request"
    new_files = set(stored_files()) - before
    assert len(new_files) == File.objects.count(), "every stored file has a row, and back"


def codes(response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def raw_post(gql, data: dict):
    return gql.client.post("/graphql/", data=data, **gql.headers)


def test_upload_over_the_size_limit_is_refused_and_not_stored(gql, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    response = gql.upload(UPLOAD, {"file": ("big.bin", b"x" * 1001)}, {"file": None})
    assert codes(response) == ["FILE_TOO_LARGE"]
    assert "big.bin" in response.json()["errors"][0]["message"]
    assert File.objects.count() == 0


def test_upload_at_the_size_limit_is_accepted(gql, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    response = gql.upload(UPLOAD, {"file": ("fits.bin", b"x" * 1000)}, {"file": None})
    assert response.json()["data"]["uploadFile"]["size"] == 1000


def test_too_many_file_parts_is_refused(gql, settings):
    count = settings.MAX_FILES_PER_REQUEST + 1
    files = {str(i): (f"f{i}.txt", b"data") for i in range(count)}
    response = gql.upload(
        UPLOAD_MANY, files, {"files": [None] * count},
        file_map={str(i): [f"variables.files.{i}"] for i in range(count)},
    )
    assert response.status_code == 400
    assert codes(response) == ["TOO_MANY_FILES"]
    assert File.objects.count() == 0


def test_too_many_files_through_one_part_is_refused(gql, settings):
    count = settings.MAX_FILES_PER_REQUEST + 1
    response = gql.upload(
        UPLOAD_MANY, {"0": ("same.txt", b"data")}, {"files": [None] * count},
        file_map={"0": [f"variables.files.{i}" for i in range(count)]},
    )
    assert codes(response) == ["TOO_MANY_FILES"]
    assert File.objects.count() == 0


def test_upload_files_is_all_or_nothing(gql):
    files = {"0": ("good.txt", b"fine"), "1": ("empty.txt", b"")}
    response = gql.upload(
        UPLOAD_MANY, files, {"files": [None, None]},
        file_map={"0": ["variables.files.0"], "1": ["variables.files.1"]},
    )
    assert codes(response) == ["INVALID_UPLOAD"]
    assert "empty.txt is empty" in response.json()["errors"][0]["message"]
    assert File.objects.count() == 0


def test_upload_files_stores_each(gql):
    files = {"0": ("one.txt", b"1"), "1": ("two.txt", b"22")}
    response = gql.upload(
        UPLOAD_MANY, files, {"files": [None, None]},
        file_map={"0": ["variables.files.0"], "1": ["variables.files.1"]},
    )
    assert [f["name"] for f in response.json()["data"]["uploadFiles"]] == ["one.txt", "two.txt"]
    assert sorted(File.objects.values_list("size", flat=True)) == [1, 2]


def test_empty_file_is_invalid(gql):
    response = gql.upload(UPLOAD, {"file": ("empty.txt", b"")}, {"file": None})
    assert codes(response) == ["INVALID_UPLOAD"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}})}, "no `map`"),
        ({"operations": "{not json", "map": "{}"}, "`operations` field is not valid JSON"),
        ({"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
          "map": json.dumps({"0": ["variables.file"]})}, "'0', which was not sent"),
        ({"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
          "map": json.dumps({"0": ["variables.nope"]}), "0": b"x"}, "does not exist"),
        ({"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
          "map": json.dumps({"0": ["query"]}), "0": b"x"}, "does not point into `variables`"),
        ({"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
          "map": json.dumps({"0": "variables.file"}), "0": b"x"}, "non-empty list"),
        ({"operations": json.dumps([1, 2]), "map": json.dumps({"0": ["5.variables.file"]}),
          "0": b"x"}, "names no operation"),
        ({"operations": json.dumps("just a string"), "map": "{}"}, "JSON object or array"),
    ],
    ids=["missing-map", "operations-not-json", "map-to-missing-part", "wrong-path",
         "path-outside-variables", "map-entry-not-list", "batch-index-out-of-range",
         "operations-not-object"],
)
def test_malformed_multipart_requests_are_400_with_a_json_body(gql, data, message):
    data = {k: SimpleUploadedFile("x.txt", v) if isinstance(v, bytes) else v
            for k, v in data.items()}
    response = raw_post(gql, data)
    assert response.status_code == 400, response.content
    assert codes(response) == ["INVALID_UPLOAD"]
    assert message in response.json()["errors"][0]["message"]
    assert File.objects.count() == 0


def test_broken_multipart_body_is_400_not_500(gql):
    response = gql.client.generic(
        "POST", "/graphql/", b"--nope\r\ngarbage", content_type="multipart/form-data; boundary=",
        **gql.headers,
    )
    assert response.status_code == 400
    assert codes(response) == ["INVALID_UPLOAD"]


def test_upload_variable_given_as_a_string_is_invalid(gql):
    response = gql.client.post(
        "/graphql/",
        data=json.dumps({"query": UPLOAD, "variables": {"file": "not a file"}}),
        content_type="application/json", **gql.headers,
    )
    assert codes(response) == ["INVALID_UPLOAD"]


def test_file_with_a_malformed_id_is_bad_user_input(gql):
    body = gql("query($id: ID!) { file(id: $id) { id } }", id="not-an-id")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00na\x1fme.txt", "badname.txt"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("é" * 300 + ".txt", "é" * 251 + ".txt"),
    ],
)
def test_file_names_are_sanitised(raw, clean):
    assert sanitize_file_name(raw) == clean


def test_stored_path_is_not_derived_from_the_client_name(gql):
    gql.upload(UPLOAD, {"file": ("../../evil.sh", b"#!/bin/sh")}, {"file": None})
    file = File.objects.get()
    assert file.name == "evil.sh"
    assert "evil" not in file.stored_file.name
    assert file.stored_file.name == f"uploads/{file.owner_id}/{file.pk.hex}"


def test_uploads_over_the_rate_limit_are_refused(gql, settings):
    settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 2
    for name in ("a.txt", "b.txt"):
        assert "errors" not in gql.upload(UPLOAD, {"file": (name, b"x")}, {"file": None}).json()
    response = gql.upload(UPLOAD, {"file": ("c.txt", b"x")}, {"file": None})
    assert codes(response) == ["RATE_LIMITED"]
    assert File.objects.count() == 2


def test_uploads_over_the_quota_are_refused(gql, other_gql, settings):
    settings.STORAGE_QUOTA = 10
    assert "errors" not in gql.upload(UPLOAD, {"file": ("a.txt", b"x" * 8)}, {"file": None}).json()
    response = gql.upload(UPLOAD, {"file": ("b.txt", b"x" * 3)}, {"file": None})
    assert codes(response) == ["QUOTA_EXCEEDED"]
    assert File.objects.count() == 1
    # The quota is per user.
    other = other_gql.upload(UPLOAD, {"file": ("c.txt", b"x" * 8)}, {"file": None}).json()
    assert "errors" not in other
