"""Answers have a byte budget (docs/reliability.md, item 27): GRAPHQL_MAX_ANSWER_BYTES, kept
while the answer is executed and while it is serialised, over HTTP and websockets; what a
query could return is counted before it runs (GRAPHQL_MAX_QUERY_COST, tests in
test_query_limits.py); result strings are capped in bytes.

The hostile files are the security review's: zips of 100 entries whose names are 1,000 emoji each,
uploaded through a real uvicorn and processed by the real worker."""

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from channels.layers import get_channel_layer

from files_app import events
from files_app.models import File, FileStatus
from files_app.processors import MAX_RESULT_STRING_BYTES
from files_app.sizes import KIB, MIB
from schema.graphql.ids import encode_file_id
from schema.live import channel
from tests.support.operations import upload_blocking
from tests.support.processes import Server, wait_until
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

EMOJI = "\N{GRINNING FACE}"
ZIPS = 8
BUDGET = 256 * KIB  # the server's GRAPHQL_MAX_ANSWER_BYTES: 8 zips' entries are ~800 KB
ENTRIES = "result { ... on ArchiveResult { entries } }"
PAGE = "files(first: 100) { edges { node { id " + ENTRIES + " } } }"
# 16 copies of the page, as the security review sent them: 15 aliases and the field itself.
SIXTEEN_COPIES = "{ " + PAGE + " " + " ".join(f"a{n}: {PAGE}" for n in range(15)) + " }"
# What the web process may grow by while it refuses an answer of several MB (measured before the
# budget: 16 copies of 8 such zips grew it by 342 MiB; one copy, serialised whole, by ~30 MiB).
PEAK_GROWTH_BOUND = 16 * MIB


def emoji_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(100):
            archive.writestr(f"{number:03d}{EMOJI * 1000}", b"")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(django_db_setup, process_logs):
    started = Server("uvicorn", process_logs, env={"GRAPHQL_MAX_ANSWER_BYTES": str(BUDGET)})
    yield started
    started.stop()


@pytest.fixture
def zips(server, celery_worker, user, token) -> list[File]:
    """ZIPS hostile zips, uploaded and processed DONE."""
    content = emoji_zip()
    ids = [upload_blocking(server, token, f"emoji-{n}.zip", content)["id"] for n in range(ZIPS)]
    owned = File.objects.filter(owner=user)
    wait_until(
        lambda: owned.filter(status=FileStatus.DONE).count() == len(ids),
        60,
        "the zips were not processed",
    )
    return list(owned)


def post(server, token, query: str, **variables) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql/",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": query, "variables": variables},
        timeout=60,
    )


def peak_rss(server) -> int:
    """The web process's peak resident memory so far (VmHWM), in bytes."""
    status = Path(f"/proc/{server.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) * KIB


def test_result_strings_are_capped_in_bytes(zips):
    """1,000 emoji are 4,000 bytes: the worker keeps whole characters up to the cap."""
    for file in zips:
        entries = file.result["entries"]
        assert len(entries) == 100
        assert all(len(entry.encode()) <= MAX_RESULT_STRING_BYTES for entry in entries)
        assert all(entry.endswith("…") and EMOJI * 200 in entry for entry in entries)


def test_sixteen_copies_of_a_page_of_entries_are_refused_before_they_run(server, token, zips):
    body = post(server, token, SIXTEEN_COPIES).json()
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ], body
    assert "could return up to" in body["errors"][0]["message"]
    scalars = "{ files { totalCount } " + " ".join(
        f"a{n}: files {{ totalCount }}" for n in range(15)
    )
    assert "errors" not in post(server, token, scalars + " }").json()


def test_an_answer_over_its_budget_is_one_error_and_is_never_held_whole(server, token, zips):
    post(server, token, "{ files(first: 1) { edges { node { " + ENTRIES + " } } } }")  # warm
    before = peak_rss(server)
    answer = post(server, token, "{ " + PAGE + " }")
    grown = peak_rss(server) - before

    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] is None, str(body)[:300]
    assert [error["extensions"]["code"] for error in body["errors"]] == ["ANSWER_TOO_LARGE"]
    assert "larger than 256 KiB" in body["errors"][0]["message"]
    assert len(answer.content) < KIB
    assert grown < PEAK_GROWTH_BOUND, f"the web process grew by {grown / MIB:.1f} MiB"


def test_answers_are_utf8_so_an_emoji_costs_its_4_bytes(server, token, zips):
    answer = post(server, token, "{ files(first: 1) { edges { node { " + ENTRIES + " } } } }")
    entries = answer.json()["data"]["files"]["edges"][0]["node"]["result"]["entries"]
    assert len(entries) == 100
    assert EMOJI.encode() in answer.content and b"\\ud83d" not in answer.content
    # 12 bytes of JSON per emoji with `ensure_ascii`: ~300 KB, over the budget.
    assert len(answer.content) < 110 * KIB


async def next_message(subscription) -> dict:
    message = await subscription.receive(timeout=30)
    assert message["type"] == "next", message
    return message["payload"]


async def test_a_subscription_event_over_the_budget_is_one_error_and_it_goes_on(
    server, token, user, zips
):
    """The hub's event for a class, and Strawberry's own first results (`ids`), alike."""
    big = zips[0]
    copies = " ".join(f"c{n}: {ENTRIES}" for n in range(4))  # ~400 KB of entries
    query = "subscription($ids: [ID!]) { fileUpdates(ids: $ids) { id name " + copies + " } }"
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(query, {"ids": [encode_file_id(big.pk)]}, owner=user)
    first = await next_message(subscription)  # the current state, sent by Strawberry
    assert first["data"] is None and codes(first) == ["ANSWER_TOO_LARGE"], str(first)[:300]

    state = live_state(big)
    await publish(user, {**state, "version": state["version"] + 1})  # the hub's execution
    event = await next_message(subscription)
    assert event["data"] is None and codes(event) == ["ANSWER_TOO_LARGE"], str(event)[:300]

    small = {**state, "version": state["version"] + 2, "name": "small.zip"}
    small["result"] = {**state["result"], "entries": ["a.txt"]}
    await publish(user, small)  # the subscription goes on
    event = await next_message(subscription)
    assert event["data"]["fileUpdates"]["name"] == "small.zip", event
    await subscription.close()


def codes(payload: dict) -> list[str]:
    return [error["extensions"]["code"] for error in payload.get("errors") or ()]


def archive_rows(owner, count: int, entry: str) -> None:
    File.objects.bulk_create(
        File(
            owner=owner,
            name=f"listing-{n}.zip",
            size=1,
            status=FileStatus.DONE,
            kind="ARCHIVE",
            content_type="application/zip",
            result={"format": "zip", "entries": [entry] * 100},
        )
        for n in range(count)
    )


def test_execution_stops_where_the_answer_passes_its_budget(gql, user, settings):
    """Not once the whole answer is built: the error names the entry where it ran out."""
    settings.GRAPHQL_MAX_ANSWER_BYTES = 50 * KIB
    archive_rows(user, 3, "x" * 992)  # 1,000 bytes of entry each: ~50 fit
    body = gql("{ files { edges { node { " + ENTRIES + " } } } }")
    assert body["data"] is None and codes(body) == ["ANSWER_TOO_LARGE"], str(body)[:300]
    path = body["errors"][0].get("path")
    assert path is not None, "the answer was refused only once serialised"
    assert path[:3] == ["files", "edges", 0] and path[-2] == "entries" and path[-1] < 60, path


def test_escapes_count_against_the_budget(gql, user, settings):
    """A control character is 1 byte of result and 6 of JSON (`\u0001`): the budget is
    kept on the JSON itself, as it is written."""
    settings.GRAPHQL_MAX_ANSWER_BYTES = 256 * KIB
    archive_rows(user, 1, "\x01" * 1000)  # 100 KB of entries, 600 KB of JSON
    body = gql("{ files { edges { node { " + ENTRIES + " } } } }")
    assert body["data"] is None and codes(body) == ["ANSWER_TOO_LARGE"], str(body)[:300]


def live_state(file: File) -> dict:
    """The file's public state as the worker publishes it (files_app/events.py)."""
    return events.file_state(file)


async def publish(owner, state: dict) -> None:
    await get_channel_layer().group_send(
        channel.owner_group(owner.pk), {"type": channel.MESSAGE_TYPE, "file": state}
    )
