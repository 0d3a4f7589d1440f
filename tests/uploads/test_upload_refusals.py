"""Limits and bad input: a clear error with a code, never a 500, and nothing left behind."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from files_app.models import File
from files_app.services import sanitize_file_name
from schema.http.ingress import incoming_dir

pytestmark = pytest.mark.django_db

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id name size } }"
UPLOAD_MANY = "mutation($files: [Upload!]!) { uploadFiles(files: $files) { id name } }"


def stored_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def temp_files() -> list[Path]:
    return [p for p in incoming_dir().iterdir() if p.is_file()]


@pytest.fixture(autouse=True)
def nothing_left_behind_unless_stored():
    before = set(stored_files())
    yield
    assert temp_files() == [], "temporary upload files must not outlive the request"
    new_files = {p for p in set(stored_files()) - before if incoming_dir() not in p.parents}
    assert len(new_files) == File.objects.count(), "every stored file has a row, and back"


def codes(response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def raw_post(gql, data: dict):
    """`data`: form fields (str) and file parts (bytes), in the order given."""
    return gql.multipart(
        [
            (name, value, "x.txt") if isinstance(value, bytes) else (name, value)
            for name, value in data.items()
        ]
    )


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
        UPLOAD_MANY,
        files,
        {"files": [None] * count},
        file_map={str(i): [f"variables.files.{i}"] for i in range(count)},
    )
    assert response.status_code == 400
    assert codes(response) == ["TOO_MANY_FILES"]
    assert File.objects.count() == 0


def test_upload_files_is_all_or_nothing(gql):
    files = {"0": ("good.txt", b"fine"), "1": ("empty.txt", b"")}
    response = gql.upload(
        UPLOAD_MANY,
        files,
        {"files": [None, None]},
        file_map={"0": ["variables.files.0"], "1": ["variables.files.1"]},
    )
    assert codes(response) == ["INVALID_UPLOAD"]
    assert "empty.txt is empty" in response.json()["errors"][0]["message"]
    assert File.objects.count() == 0


def test_upload_files_stores_each(gql):
    files = {"0": ("one.txt", b"1"), "1": ("two.txt", b"22")}
    response = gql.upload(
        UPLOAD_MANY,
        files,
        {"files": [None, None]},
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
        (
            {"operations": json.dumps({"query": UPLOAD, "variables": {"file": None}})},
            "The `map` field is missing",
        ),
        ({"operations": "{not json", "map": "{}"}, "`operations` field is not valid JSON"),
        (
            {
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            "'0', which was not sent",
        ),
        (
            {
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.nope"]}),
                "0": b"x",
            },
            "does not exist",
        ),
        (
            {
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": ["query"]}),
                "0": b"x",
            },
            "does not point into `variables`",
        ),
        (
            {
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": "variables.file"}),
                "0": b"x",
            },
            "non-empty list",
        ),
        ({"operations": json.dumps("just a string"), "map": "{}"}, "must be a JSON object"),
        (
            {
                "operations": json.dumps({"query": UPLOAD_MANY, "variables": {"files": [None]}}),
                "map": json.dumps({"0": ["variables.files.0", "variables.files.0"]}),
                "0": b"x",
            },
            "to 2 places",
        ),
        (
            {
                "operations": json.dumps({"query": UPLOAD_MANY, "variables": {"files": [None]}}),
                "map": json.dumps({"0": ["variables.files.0"], "1": ["variables.files.0"]}),
                "0": b"x",
                "1": b"y",
            },
            "two parts to the same path",
        ),
        (
            {
                "map": json.dumps({"0": ["variables.file"]}),
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            },
            "must come before `map`",
        ),
    ],
    ids=[
        "missing-map",
        "operations-not-json",
        "map-to-missing-part",
        "wrong-path",
        "path-outside-variables",
        "map-entry-not-list",
        "operations-not-object",
        "part-mapped-twice",
        "two-parts-one-path",
        "map-before-operations",
    ],
)
def test_malformed_multipart_requests_are_400_with_a_json_body(gql, data, message):
    response = raw_post(gql, data)
    assert response.status_code == 400, response.content
    assert codes(response) == ["INVALID_UPLOAD"]
    assert message in response.json()["errors"][0]["message"]
    assert File.objects.count() == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=", b"--nope\r\ngarbage"),
        ("multipart/form-data; boundary=b", b"--nope\r\ngarbage"),
        ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="x"'),
        ("multipart/form-data; boundary=b", b"--b\r\nNo-Disposition: x\r\n\r\nx\r\n--b--\r\n"),
    ],
    ids=["no-boundary", "wrong-boundary", "cut-short", "no-disposition"],
)
def test_broken_multipart_body_is_400_not_500(gql, content_type, body):
    response = gql.post(content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert codes(response) == ["INVALID_UPLOAD"]


def test_upload_variable_given_as_a_string_is_invalid(gql):
    response = gql.post(json={"query": UPLOAD, "variables": {"file": "not a file"}})
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


@pytest.mark.parametrize("where", ["operations", "json-body"])
def test_deeply_nested_json_is_a_400(gql, where):
    """Deep enough to exhaust the JSON parser's recursion: a client error, never a 500."""
    deep = "[" * 100_000 + "]" * 100_000
    if where == "operations":
        response = raw_post(gql, {"operations": deep, "map": "{}"})
        expected = "INVALID_UPLOAD"
    else:
        response = gql.post(content=deep.encode(), headers={"Content-Type": "application/json"})
        expected = "BAD_REQUEST"
    assert response.status_code == 400, response.content
    assert codes(response) == [expected]
    assert "nested too deeply" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("broken", ["incoming", "stored"])
def test_a_storage_failure_is_503_without_os_details(gql, settings, tmp_path, broken):
    """A full or broken disk while receiving (`.incoming`) or storing (`uploads/`) the bytes:
    SERVICE_UNAVAILABLE, no row, and nothing of the OS error (paths, errno text) echoed."""
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / (".incoming" if broken == "incoming" else "uploads")).write_text("not a folder")
    response = gql.upload(UPLOAD, {"file": ("a.txt", b"hello")}, {"file": None})
    assert codes(response) == ["SERVICE_UNAVAILABLE"], response.text
    assert str(tmp_path) not in response.text and "Errno" not in response.text
    assert response.status_code in (200, 503) and File.objects.count() == 0
