"""The docs can be followed: every relative link of the README and docs/*.md resolves (the file,
and the `#anchor` as a heading of it), every repository path they write in backticks exists,
and docs/settings.md is generated from `.env.example`, which describes every variable the code
reads with the code's defaults. A file moved, a heading renamed or a setting added without its
description fails here. Pure checks: no database, no server. See docs/testing.md, "The docs are
checked"."""

from pathlib import Path

import pytest

from tests.support import docs
from tests.support.processes import BASE_DIR
from tools import settings_doc

DOCUMENTS = docs.documents()
README_MOST_LINES = 250  # a front door: what the service is, the tour, the API's shape, links
# Named by the docs, but only in a checkout that has built the page (`make frontend`).
BUILT = {"frontend/dist", "frontend/dist/graphiql", "frontend/src/gql", "frontend/src/gql/enums.ts"}
# The suite's layers (docs/testing.md), before its modules move there (issue 26, item 7). Once
# one exists, test_paths_to_come_are_still_to_come fails: take it off this list.
TO_COME = {
    "tests/api",
    "tests/uploads",
    "tests/live",
    "tests/page",
    "tests/ops",
}


def named(path: Path) -> str:
    return str(path.relative_to(BASE_DIR))


def test_the_readme_is_a_front_door():
    lines = len((BASE_DIR / "README.md").read_text().splitlines())
    assert lines <= README_MOST_LINES, "the detail belongs in docs/: the README links to it"


def test_the_readme_and_every_doc_are_read():
    assert {"README.md", "docs/api.md", "docs/settings.md"} <= {named(one) for one in DOCUMENTS}


@pytest.mark.parametrize("document", DOCUMENTS, ids=named)
def test_every_relative_link_resolves(document):
    assert docs.link_problems(document, document.read_text()) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=named)
def test_every_repository_path_in_backticks_exists(document):
    assert docs.path_problems(document, document.read_text(), absent=BUILT | TO_COME) == []


def test_paths_to_come_are_still_to_come():
    arrived = sorted(path for path in TO_COME if (BASE_DIR / path).exists())
    assert arrived == [], "these exist now: take them off TO_COME in tests/test_docs.py"


def test_a_broken_link_a_missing_heading_and_a_missing_path_are_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "errors.py").write_text("")
    (tmp_path / "docs" / "api.md").write_text("# The API\n\n## Direct uploads (S3)\n")
    readme = tmp_path / "README.md"
    text = (
        "See [uploads](docs/api.md#direct-uploads-s3), [tus](docs/api.md#tus) and\n"
        "[ops](docs/operations.md); `schema/errors.py` and `schema/tus.py`, not `var/x.db`.\n\n"
        "```sh\ncat schema/gone.py  # [code](nowhere.md) is not prose\n```\n"
    )
    assert docs.link_problems(readme, text) == [
        "README.md:1: docs/api.md#tus: no such heading",
        "README.md:1: docs/operations.md: no such file",
    ]
    assert docs.path_problems(readme, text, base_dir=tmp_path) == [
        "README.md:1: `schema/tus.py` does not exist"
    ]


def test_anchors_are_githubs():
    text = "# Live updates at scale: `make bench ONLY=watchers`\n## Errors\n## Errors\n"
    assert docs.anchors(text) == {
        "live-updates-at-scale-make-bench-onlywatchers",
        "errors",
        "errors-1",
    }


def test_settings_doc_is_generated_from_env_example_and_agrees_with_the_code():
    page, problems = settings_doc.generate()
    assert problems == []
    assert settings_doc.SETTINGS_DOC.read_text() == page, (
        "docs/settings.md is stale: run `make settings-doc`"
    )


def test_the_settings_check_finds_what_disagrees():
    env = (
        "# --- Uploads ---\n"
        "# Largest file accepted, in bytes. Default: 2048 (2 KiB)\nMAX_UPLOAD_SIZE=\n"
        "# Read by nothing. Default: 1\nNOBODY_READS_THIS=1\n"
    )
    code = (
        'MAX_UPLOAD_SIZE = env_int("MAX_UPLOAD_SIZE", 1 * GIB)\nDEBUG = env_bool("DEBUG", False)\n'
    )
    reads = {
        name: [settings_doc.Read("project/settings/uploads.py", default)]
        for name, default in settings_doc.reads_in(code)
    }
    assert settings_doc.problems(settings_doc.parse_env_example(env), reads) == [
        "DEBUG is read (project/settings/uploads.py) but not described in .env.example",
        ".env.example:3: MAX_UPLOAD_SIZE's default is '2048 (2 KiB)', but "
        "project/settings/uploads.py falls back to 1073741824",
        ".env.example:5: NOBODY_READS_THIS is described but read nowhere",
    ]
    with pytest.raises(settings_doc.SourceError, match="MAX_UPLOAD_SIZE needs a comment"):
        settings_doc.parse_env_example("# --- Uploads ---\nMAX_UPLOAD_SIZE=\n")
