"""Property tests for the multipart edge cases: whatever the shape of `operations`, `map`,
part names and file names, the answer is a 200 or a 400 with a JSON error body — never a
500 — and a refused request leaves no row behind."""

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from files_app.models import File

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id name } }"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
paths = st.lists(
    st.sampled_from(["variables", "file", "files", "0", "1", "query", "x", ""]),
    min_size=0,
    max_size=4,
).map(".".join)
maps = st.dictionaries(st.text(max_size=5), st.lists(paths, max_size=3) | json_values, max_size=3)
names = st.text(max_size=300)
contents = st.binary(max_size=64)
PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def part(name: str, content: bytes) -> tuple[str, bytes]:
    """A file part; httpx encodes its name as browsers do (quotes and control characters
    percent-encoded)."""
    return (name, content)


def post(gql, data):
    """`data`: fields (a str, or a list for a field sent more than once), then file parts
    (a part, or a list of them), sent in that order as real clients do."""
    fields = {key: value for key, value in data.items() if not is_file(value)}
    files = [
        (key, one)
        for key, value in data.items()
        if is_file(value)
        for one in (value if isinstance(value, list) else [value])
    ]
    response = gql.post(data=fields, files=files)
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    body = response.json()
    if response.status_code == 400 or body.get("errors"):
        for error in body["errors"]:
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
    return body


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(file_map=maps, field=st.text(min_size=1, max_size=5), name=names, content=contents)
def test_any_map_shape_is_answered_cleanly(gql, file_map, field, name, content):
    before = File.objects.count()
    body = post(
        gql,
        {
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps(file_map),
            field: part(name, content),
        },
    )
    if "errors" in body:
        assert File.objects.count() == before


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(operations=json_values, name=names, content=contents)
def test_any_operations_value_is_answered_cleanly(gql, operations, name, content):
    before = File.objects.count()
    body = post(
        gql,
        {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": part(name, content),
        },
    )
    if "errors" in body:
        assert File.objects.count() == before


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(name=names, content=contents)
def test_any_file_name_and_content_is_stored_safely(gql, name, content):
    body = post(
        gql,
        {
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": part(name, content),
        },
    )
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "INVALID_UPLOAD"
        # Only an empty file is refused, whatever its name (httpx sends a part with an empty
        # file name as a plain field, which `map` can't name as a file).
        assert not content or not name, body
    else:
        stored = File.objects.get(pk=File.objects.latest("uploaded_at").pk)
        assert "/" not in stored.name and "\x00" not in stored.name and len(stored.name) <= 255
        assert stored.stored_file.name.startswith(f"uploads/{stored.owner_id}/")


def is_file(value) -> bool:
    return isinstance(value, tuple) or (isinstance(value, list) and isinstance(value[0], tuple))


def repeated_keys_object(pairs: list[tuple[str, object]]) -> str:
    """A JSON object that may name a key more than once (json.dumps can't write one)."""
    return "{" + ", ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in pairs) + "}"


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(
    part_copies=st.integers(1, 3),
    map_fields=st.integers(1, 2),
    map_keys=st.integers(1, 2),
    query_keys=st.integers(1, 2),
    unmapped_part=st.booleans(),
)
def test_duplicate_keys_are_refused_not_guessed(
    gql, part_copies, map_fields, map_keys, query_keys, unmapped_part
):
    """Two parts with one name, `map` sent twice, a JSON key twice, a part `map` doesn't
    name: any of them would silently drop something the client sent."""
    file_map = repeated_keys_object([("0", ["variables.file"])] * map_keys)
    operations = repeated_keys_object(
        [("query", UPLOAD)] * query_keys + [("variables", {"file": None})]
    )
    data = {
        "operations": operations,
        "map": [file_map] * map_fields,
        "0": [part(f"copy-{copy}.txt", b"content") for copy in range(part_copies)],
    }
    if unmapped_part:
        data["1"] = part("extra.txt", b"extra")
    before = File.objects.count()
    body = post(gql, data)
    if (part_copies, map_fields, map_keys, query_keys, unmapped_part) == (1, 1, 1, 1, False):
        assert "errors" not in body, body
        assert File.objects.count() == before + 1
    else:
        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_UPLOAD"]
        assert File.objects.count() == before
