"""FILE_PROCESSORS read (files_app/processors/outside.py), in-process and pure: what a dotted
path must name, refused with a sentence saying why (the worker stops on it at start), and
which processor a file gets."""

import io
import sys

import pytest

from files_app import processors
from files_app.processors import FileKind, ProcessorConfigError, Result, outside_processors
from files_app.processors.outside import load
from files_app.services.processing import processing_limits
from tests.support.processes import BASE_DIR

EXAMPLES = str(BASE_DIR / "docs" / "examples")
LIMITS = str(BASE_DIR / "tests" / "processing" / "outside")


@pytest.fixture(autouse=True)
def outside_folders(monkeypatch):
    monkeypatch.setattr(sys, "path", [EXAMPLES, LIMITS, *sys.path])


class NoKind:
    def process(self, source):
        return Result(fields={})


class CustomKind(NoKind):
    kind = "CUSTOM"


class NoExtensions(NoKind):
    kind = "NOTES"


class BadExtension(NoKind):
    kind = "NOTES"
    extensions = ("md",)


class NotAProcessor:
    kind = "NOTES"
    extensions = (".notes",)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("no_such_module.Processor", "cannot import"),
        ("markdown_processor.NoSuchClass", "cannot import"),
        (f"{__name__}.NoKind", "needs a `kind`"),
        (f"{__name__}.CustomKind", "other than CUSTOM"),
        (f"{__name__}.NoExtensions", "needs `extensions`"),
        (f"{__name__}.BadExtension", "needs `extensions`"),
        (f"{__name__}.NotAProcessor", "has no `process(source)`"),
    ],
)
def test_what_is_not_a_processor_is_refused_with_why(path, says):
    with pytest.raises(ProcessorConfigError, match="FILE_PROCESSORS") as refused:
        load(path)
    assert says in str(refused.value)


def test_two_processors_for_one_kind_are_refused():
    with pytest.raises(ProcessorConfigError, match=r"more than one processor for \['MARKDOWN'\]"):
        outside_processors(
            ("markdown_processor.MarkdownProcessor", "markdown_processor.MarkdownProcessor")
        )


def run(name: str, content: bytes, paths: tuple[str, ...]):
    source = processors.ProcessingSource(
        stream=io.BytesIO(content),
        size=len(content),
        name=name,
        content_type="application/octet-stream",
        chunk_size=64 * 1024,
        report_progress=lambda fraction: None,
        limits=processing_limits(),
    )
    return processors.run(source, outside_processors(paths))


def test_a_file_goes_to_its_own_kind_first_then_to_a_replacement_then_to_the_built_in():
    paths = ("markdown_processor.MarkdownProcessor", "limit_processors.EveryLine")
    checksum, result = run("notes.MD", b"# Title\n", paths)
    assert checksum.kind == FileKind.CUSTOM and result.fields["custom_kind"] == "MARKDOWN"
    assert result.fields["data"]["title"] == "Title"
    checksum, result = run("notes.txt", b"# Title\n", paths)
    assert checksum.kind == FileKind.TEXT and result.fields["custom_kind"] == "TEXT"
    checksum, result = run("notes.json", b'{"a": 1}', paths)
    assert checksum.kind == FileKind.JSON and "custom_kind" not in result.fields
    checksum, result = run("notes.md", b"# Title\n", ())
    assert checksum.kind == FileKind.TEXT and "custom_kind" not in result.fields
