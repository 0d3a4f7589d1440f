"""The page sends big files through tus (frontend/src/tus.ts), in real headless Chromium: a
PATCH whose connection drops is resumed from where the server's stored bytes end, not from
byte 0, and the file reaches DONE in the table. Its own server, with a small threshold."""

import pytest

from files_app.models import File, FileStatus
from files_app.sizes import KIB
from tests.support.browser import DROP_FILES
from tests.support.processes import Server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

THRESHOLD = 256 * KIB
CHUNK = 200 * KIB
TEXT = "".join(f"line {n:07d} of a resumable upload from the page\n" for n in range(12_000))


@pytest.fixture(scope="module")
def page_server(django_db_setup, process_logs, celery_worker):
    """test_page's `page` logs in here: a server with a small tus threshold and chunk."""
    server = Server(
        "uvicorn", process_logs, env={"TUS_THRESHOLD": str(THRESHOLD), "TUS_CHUNK_SIZE": str(CHUNK)}
    )
    yield server
    server.stop()


def test_a_dropped_patch_resumes_where_the_server_stopped(page, user):
    sent, dropped = [], []

    def drop_the_second_patch(route, request):
        offset = request.headers.get("upload-offset")
        if request.method == "PATCH" and offset != "0" and not dropped:
            dropped.append(offset)
            return route.abort("connectionreset")
        sent.append((request.method, offset))
        return route.continue_()

    page.route("**/tus/**", drop_the_second_patch)
    page.evaluate(DROP_FILES, [[["resumed.txt", TEXT]]])
    page.wait_for_selector('#uploads li[data-name="resumed.txt"][data-status=DONE]')
    page.wait_for_selector('#rows tr[data-name="resumed.txt"][data-status=DONE]')

    assert dropped == [str(CHUNK)]
    patches = [offset for method, offset in sent if method == "PATCH"]
    assert patches[:2] == ["0", str(CHUNK)], sent  # resumed at the stored offset, not at 0
    assert patches.count("0") == 1 and ("HEAD", None) in sent, sent
    file = File.objects.get(owner=user, name="resumed.txt")
    assert file.status == FileStatus.DONE and file.size == len(TEXT)
