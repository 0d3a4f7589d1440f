"""`totalCount` of `files`: exact from the counters without filters or by status; capped,
and saying so, with any other filter."""

import asyncio

import pytest

from files_app import selectors
from files_app.models import FileStatus, OwnerUsage
from schema.graphql.api import schema
from tests.support.files import make_done_file
from tests.support.graphql import GraphQL
from tests.support.users import grant_every_file_right

pytestmark = pytest.mark.django_db

COUNT = """query($filters: FileFilter, $first: Int, $last: Int) {
  files(filters: $filters, first: $first, last: $last) {
    totalCount totalCountIsCapped edges { node { name } }
  }
}"""


def count(gql, **variables) -> tuple[int, bool]:
    body = gql(COUNT, **variables)
    assert "errors" not in body, body
    files = body["data"]["files"]
    return files["totalCount"], files["totalCountIsCapped"]


@pytest.fixture
def files(user, other_user):
    for i in range(5):
        make_done_file(user, f"report-{i}.csv")
    failed = make_done_file(user, "notes.txt")
    type(failed).objects.filter(pk=failed.pk).update(status=FileStatus.FAILED)
    make_done_file(other_user, "report-theirs.csv")


def test_an_unfiltered_count_is_exact_and_read_from_the_counter(gql, user, files):
    assert count(gql, first=2) == (6, False)
    # The counter, not the rows: one indexed read however many files there are.
    OwnerUsage.objects.filter(owner=user).update(done=1000)
    assert count(gql, first=2) == (1001, False)


def test_a_count_by_status_is_exact(gql, files):
    assert count(gql, filters={"status": "FAILED"}) == (1, False)
    assert count(gql, filters={"statusIn": ["DONE", "FAILED"]}) == (6, False)
    assert count(gql, filters={"status": "DONE", "statusIn": ["FAILED"]}) == (0, False)
    assert count(gql, filters={"statusIn": []}) == (0, False)
    assert count(gql, filters={"status": "PENDING"}) == (0, False)


def test_any_other_filter_counts_rows_up_to_the_cap(gql, files, monkeypatch):
    assert count(gql, filters={"nameContains": "REPORT"}) == (5, False)
    page = gql(COUNT, filters={"nameContains": "report"}, first=10)["data"]["files"]["edges"]
    assert sorted(edge["node"]["name"] for edge in page) == [f"report-{i}.csv" for i in range(5)]
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    total, capped = count(gql, filters={"nameContains": "report"}, first=1)
    assert (total, capped) == (3, True)
    assert count(gql, filters={"nameContains": "notes"}) == (1, False)
    assert count(gql, filters={"status": "DONE", "nameContains": "report-1"}) == (1, False)


def test_staff_count_everyone_s_files(client, staff_user, staff_token, files):
    grant_every_file_right(staff_user)
    assert count(GraphQL(client, staff_token)) == (7, False)


def test_the_last_page_is_still_the_last(gql, files):
    body = gql(COUNT, last=2)
    names = [edge["node"]["name"] for edge in body["data"]["files"]["edges"]]
    assert names == ["report-1.csv", "report-0.csv"] and body["data"]["files"]["totalCount"] == 6
    assert count(gql, filters={"nameContains": "report-"}, last=2) == (5, False)


@pytest.mark.django_db(transaction=True)
def test_over_the_websocket_pages_and_counts_are_the_same(user, files):
    """The websocket executes the schema async, where each query of the page and of its count
    must run in a thread (`django_resolver`): in the event loop Django refuses them, and the
    client got INTERNAL_SERVER_ERROR for any `files` query sent over the websocket."""

    class Request:
        pass

    request = Request()
    request.user = user

    async def page(**variables) -> dict:
        done = await schema.execute(
            COUNT, variable_values=variables, context_value={"request": request}
        )
        assert done.errors is None, done.errors
        files = done.data["files"]
        return files["totalCount"], files["totalCountIsCapped"], len(files["edges"])

    assert asyncio.run(page(first=2)) == (6, False, 2)
    assert asyncio.run(page(last=2)) == (6, False, 2)
    assert asyncio.run(page(filters={"status": "FAILED"})) == (1, False, 1)
    assert asyncio.run(page(filters={"nameContains": "REPORT"}, first=3)) == (5, False, 3)
    assert asyncio.run(page(filters={"nameContains": "REPORT"}, last=2)) == (5, False, 2)
