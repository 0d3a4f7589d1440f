"""The committed SDL snapshot (`schema.graphql`) is the schema the code serves.

Reviewers see an API change as a diff of `schema.graphql`, and the page's TypeScript types are
generated from it (frontend/codegen.ts): a snapshot that lags the code would hide the first and
break the second. No database needed.
"""

import difflib
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from graphql import build_schema

from files_app.failures import FailureCode
from schema.errors import ErrorCode

SNAPSHOT = settings.BASE_DIR / "schema.graphql"
REGENERATE = "make schema"


def exported_schema() -> str:
    """What `make schema` writes: strawberry-django's `export_schema` of the schema
    (`schema.graphql.api:schema`)."""
    out = io.StringIO()
    call_command("export_schema", "schema.graphql.api:schema", stdout=out)
    return out.getvalue().rstrip("\n")


def test_snapshot_matches_the_code():
    snapshot = SNAPSHOT.read_text(encoding="utf-8").rstrip("\n")
    code = exported_schema()
    if snapshot != code:
        diff = difflib.unified_diff(
            snapshot.splitlines(), code.splitlines(), "schema.graphql", "the code", lineterm=""
        )
        pytest.fail(
            f"schema.graphql differs from the schema the code serves: run `{REGENERATE}` and "
            "commit schema.graphql.\n" + "\n".join(diff),
            pytrace=False,
        )


@pytest.mark.parametrize("codes", [ErrorCode, FailureCode])
def test_the_sdl_lists_every_code(codes):
    """Clients generate their error handling from the SDL: its enums are the Python ones."""
    sdl = build_schema(SNAPSHOT.read_text(encoding="utf-8"))
    assert list(sdl.type_map[codes.__name__].values) == [code.value for code in codes]
