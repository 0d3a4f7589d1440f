"""Django admin: the file list, its filters and search, the detail page and the reprocess action."""

import pytest

from files_app.models import File, FileStatus
from tests.support.files import make_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_file(user):
    return make_file(
        user,
        b"a,b,c",
        name="quarterly-report.csv",
        status=FileStatus.DONE,
        sha256="ab" * 32,
        content_type="text/plain",
    )


def test_file_list_filters_and_search(admin_client, done_file):
    page = admin_client.get("/admin/files_app/file/?status__exact=DONE&q=quarterly")
    assert page.status_code == 200
    assert b"quarterly-report.csv" in page.content
    assert (
        admin_client.get("/admin/files_app/file/?q=" + "ab" * 32).content.count(
            b"quarterly-report.csv"
        )
        >= 1
    )
    empty = admin_client.get("/admin/files_app/file/?status__exact=FAILED")
    assert b"quarterly-report.csv" not in empty.content


def test_file_detail_page_is_readable(admin_client, done_file):
    page = admin_client.get(f"/admin/files_app/file/{done_file.pk}/change/")
    assert page.status_code == 200
    for text in (b"quarterly-report.csv", b"5 B", b"ab" * 32, b"/download"):
        assert text in page.content
    assert b"bytes)" not in page.content  # not "5 B (5 bytes)": once is enough
    assert b'name="_save"' not in page.content  # read-only: nothing to save


def test_sizes_read_in_one_unit(admin_client, done_file):
    File.objects.filter(pk=done_file.pk).update(size=3 * 1024**3 // 2)
    page = admin_client.get(f"/admin/files_app/file/{done_file.pk}/change/")
    assert b"1.5 GiB (1,610,612,736 bytes)" in page.content
    listed = admin_client.get("/admin/files_app/file/").content
    assert b"1.5 GiB" in listed and b"bytes)" not in listed


def test_reprocess_action_queues_the_file(
    admin_client, done_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/files_app/file/",
            {"action": "reprocess", "_selected_action": [str(done_file.pk)]},
            follow=True,
        )
    assert response.status_code == 200
    assert b"1 file(s) queued" in response.content
    done_file.refresh_from_db()
    assert done_file.status == FileStatus.PENDING
    assert callbacks, "the task is dispatched once the transaction commits"
