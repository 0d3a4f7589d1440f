"""The live page in a real headless Chromium, against a real server, worker, database and
Redis. Skipped where Chromium or the built page is missing, unless REQUIRE_BROWSER=1 (CI)."""

import pytest

from tests.support.browser import ARTIFACTS, DROP_FILES, PAGE_MAX_UPLOAD, RECORD_UPLOAD_STATES
from tests.support.operations import upload_blocking
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dropped_files_upload_with_progress_and_reach_done_live(page):
    page.evaluate(RECORD_UPLOAD_STATES)
    big_line = "x" * 99 + "\n"
    files = [
        ["first.txt", "hello\n" * 10],
        ["second.csv", "a,b\n" + "1,2\n" * 50 + big_line * 5000],
    ]
    page.evaluate(DROP_FILES, [files])
    for name, _ in files:
        page.wait_for_selector(f'#uploads li[data-name="{name}"][data-status=DONE]')
        page.wait_for_selector(f'#rows tr[data-name="{name}"][data-status=DONE]')
    states = page.evaluate("window.__states")
    for name, _ in files:
        assert states[name][0] == "UPLOADING+bar", states  # a real upload progress bar first
        assert states[name][-1] == "DONE", states
    assert page.locator("#rows tr").count() == 2


def test_upload_made_elsewhere_appears_live(page, page_server, token):
    upload_blocking(page_server, token, "from-curl.txt", b"uploaded with a token")
    page.wait_for_selector('#rows tr[data-name="from-curl.txt"][data-status=DONE]')


def test_oversize_file_shows_its_error(page):
    page.set_input_files(
        "#file-input",
        files=[
            {
                "name": "huge.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"\0" * (PAGE_MAX_UPLOAD + 1),
            }
        ],
    )
    error = page.wait_for_selector('#uploads li[data-name="huge.bin"][data-status=ERROR] .error')
    assert "larger than the 2 MiB limit" in error.inner_text()  # the unit the page uses
    assert "2 MiB each" in page.inner_text("#drop-hint")
    assert page.locator('#rows tr[data-name="huge.bin"]').count() == 0


def test_an_empty_search_says_no_files_match(page):
    page.fill("#filter-name", "nothing-is-called-this")
    assert page.wait_for_selector("#rows td.empty:text('No files match.')")


def test_the_admin_list_fits_1280_pixels(browser, page_server, db):
    from django.contrib.auth import get_user_model

    from files_app.models import File, FileStatus

    admin = get_user_model().objects.create_superuser("root-admin", password=PASSWORD)
    File.objects.create(
        owner=admin,
        name="quarterly-report-2026-final-version-2.csv",
        size=1_234_567,
        status=FileStatus.DONE,
        content_type="text/csv",
    )
    context = browser.new_context(base_url=page_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/files_app/file/")
    page.fill("#id_username", "root-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-file-list.png"))
    # Django's admin scrolls a table wider than its column instead of widening the page.
    results = "document.querySelector('.results')"
    assert page.evaluate(f"{results}.scrollWidth <= {results}.clientWidth"), "cut off"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert "1.18 MiB\t" in page.inner_text("#result_list")  # one unit, no byte count
    context.close()


def test_detail_view_shows_the_typed_result(page):
    page.set_input_files(
        "#file-input",
        files=[{"name": "table.csv", "mimeType": "text/csv", "buffer": b"id,name\n1,a\n2,b\n3\n"}],
    )
    page.wait_for_selector('#rows tr[data-name="table.csv"][data-status=DONE]')
    page.click('#rows tr[data-name="table.csv"] button')
    dialog = page.wait_for_selector("#detail[open] .detail-body h3")
    assert dialog.inner_text() == "table.csv"
    body = page.inner_text("#detail .detail-body")
    assert "Bad rows (1)" in body and "line 4" in body
    assert page.get_attribute("#detail a.button", "href").endswith("/download")


def test_page_recovers_after_the_server_restarts(page, page_server, token):
    page_server.restart()
    page.wait_for_selector("#live[data-state=live]")  # graphql-ws reconnected by itself
    upload_blocking(page_server, token, "after-restart.txt", b"still live")
    page.wait_for_selector('#rows tr[data-name="after-restart.txt"][data-status=DONE]')


def test_page_stops_retrying_when_the_session_is_gone(page, page_server):
    page.context.clear_cookies()
    page_server.restart()  # the reconnect now carries no session: closed with 4401
    page.wait_for_selector("#live[data-state=logged-out]")
    assert "log in" in page.inner_text("#live")
