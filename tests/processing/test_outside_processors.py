"""Processors from outside the service (FILE_PROCESSORS, docs/processors.md) on a real prefork
worker and a real uvicorn server: docs/examples/markdown_processor.py, loaded by path from
outside the project's packages, turns an uploaded `.md` file DONE with its headings, links and
word count, served as `CustomResult`; a replacement for a built-in kind keeps the kind; and the
built-ins' limits, memory cap and failure codes apply to outside processors as they are."""

import httpx
import pytest

from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from files_app.processors import FileKind
from schema.graphql.ids import decode_file_id, encode_file_id
from tests.support import samples
from tests.support.operations import upload_blocking
from tests.support.pool_worker import PoolWorker
from tests.support.processes import (
    BASE_DIR,
    Server,
    separate_broker_url,
    start_celery,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

OUTSIDE = [BASE_DIR / "docs" / "examples", BASE_DIR / "tests" / "processing" / "outside"]
FILE_PROCESSORS = ",".join(
    [
        "markdown_processor.MarkdownProcessor",
        *(f"limit_processors.{name}" for name in ("Refusing", "Buggy", "Greedy", "Endless")),
        "limit_processors.EveryLine",
    ]
)
BROKER_OFFSET = 11  # a broker of their own (tests/support/processes.py separate_broker_url)
MARKDOWN = b"""# Release notes

Read [the API](docs/api.md) first, then <https://example.com/help>.

Setup
-----

```sh
# a comment in code, not a heading: [no](link)
```

## What's new ##

[home]: https://example.com/
"""
RESULT = """query($id: ID!) { file(id: $id) { kind status result {
  __typename ... on CustomResult { kind data } } } }"""


@pytest.fixture(scope="module")
def outside(django_db_setup, django_db_blocker, process_logs):
    """A worker loading the outside processors, and a server queueing to it alone."""
    pythonpath = ":".join(str(path) for path in OUTSIDE)
    worker = PoolWorker(
        process_logs / "outside-processors-worker.log",
        {
            "FILE_PROCESSORS": FILE_PROCESSORS,
            "PYTHONPATH": pythonpath,
            "PROCESSING_MEMORY_LIMIT": "256",
            "PROCESSING_SOFT_TIME_LIMIT": "3",
        },
        broker_offset=BROKER_OFFSET,
    )
    try:
        server = Server("uvicorn", process_logs, env={"CELERY_BROKER_URL": worker.broker_url})
    except BaseException:
        worker.stop()
        raise
    yield server
    server.stop()
    worker.stop()


def processed(server, token, name: str, content: bytes) -> File:
    file_id = decode_file_id(upload_blocking(server, token, name, content)["id"])
    wait_until(
        File.objects.filter(pk=file_id, status__in=(FileStatus.DONE, FileStatus.FAILED)).exists,
        60,
        f"{name} never finished",
    )
    return File.objects.get(pk=file_id)


def result_of(server, token, file: File) -> dict:
    answer = httpx.post(
        f"{server.url}/graphql/",
        json={"query": RESULT, "variables": {"id": encode_file_id(file.pk)}},
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.json()["data"]["file"]


def test_the_markdown_example_makes_an_uploaded_md_file_done(outside, token):
    file = processed(outside, token, "notes.md", MARKDOWN)
    assert (file.status, file.kind) == (FileStatus.DONE, FileKind.CUSTOM), file.error
    assert result_of(outside, token, file) == {
        "kind": "CUSTOM",
        "status": "DONE",
        "result": {
            "__typename": "CustomResult",
            "kind": "MARKDOWN",
            "data": {
                "title": "Release notes",
                "line_count": 14,
                "word_count": 10,  # Release notes, Read the API first then, Setup, What's new
                "heading_count": 3,
                "headings": [
                    {"level": 1, "text": "Release notes"},
                    {"level": 2, "text": "Setup"},
                    {"level": 2, "text": "What's new"},
                ],
                "link_count": 3,
                "links": [
                    {"text": "the API", "url": "docs/api.md"},
                    {"text": "https://example.com/help", "url": "https://example.com/help"},
                    {"text": "home", "url": "https://example.com/"},
                ],
                "image_count": 0,
            },
        },
    }


def test_bytes_decide_too_an_image_named_md_stays_an_image(outside, token):
    file = processed(outside, token, "picture.md", samples.png(8, 8))
    assert (file.status, file.kind) == (FileStatus.DONE, FileKind.IMAGE)
    assert result_of(outside, token, file)["result"]["__typename"] == "ImageResult"


def test_a_replacement_keeps_the_kind_and_its_result_is_bounded(outside, token):
    lines = b"".join(b"line %d\n" % n for n in range(500))
    file = processed(outside, token, "many.txt", lines)
    assert (file.status, file.kind) == (FileStatus.DONE, FileKind.TEXT), file.error
    result = result_of(outside, token, file)["result"]
    assert (result["__typename"], result["kind"]) == ("CustomResult", "TEXT")
    assert len(result["data"]["lines"]) == 200  # MAX_RESULT_ITEMS, as for every result
    assert len(result["data"]["first"].encode()) <= 1000  # MAX_RESULT_STRING_BYTES


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        ("a.refuse", FailureCode.DAMAGED, "This file says it is damaged."),
        ("a.buggy", FailureCode.UNEXPECTED, ""),
        ("a.greedy", FailureCode.TOO_COMPLEX, "too large or too complex"),
        ("a.endless", FailureCode.TOOK_TOO_LONG, ""),
    ],
)
def test_a_failing_outside_processor_ends_failed_with_its_code(outside, token, name, code, says):
    file = processed(outside, token, name, b"some text\n")
    assert (file.status, file.failure_code) == (FileStatus.FAILED, code), file.error
    assert says in file.error and "/srv" not in file.error


def test_a_worker_refuses_to_start_on_a_processor_it_cannot_load(process_logs):
    log = process_logs / "outside-processors-refused.log"
    worker = start_celery(
        {
            "CELERY_BROKER_URL": separate_broker_url(BROKER_OFFSET),
            "FILE_PROCESSORS": "markdown_processor.MarkdownProcessor,no_such_module.Processor",
            "PYTHONPATH": ":".join(str(path) for path in OUTSIDE),
        },
        log,
        "worker",
        "--pool",
        "solo",
    )
    try:
        assert worker.process.wait(timeout=30) != 0
    finally:
        worker.stop()
    assert "FILE_PROCESSORS: cannot import 'no_such_module.Processor'" in log.read_text()
