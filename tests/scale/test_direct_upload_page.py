"""The live page on S3 sends the bytes straight to the bucket (frontend/src/directUpload.ts),
with real progress, in headless Chromium against the S3 web processes and workers."""

import pytest

from files_app.models import File, FileStatus
from tests.support.browser import DROP_FILES, RECORD_UPLOAD_STATES, WAIT_MS, logged_in_page
from tests.support.processes import wait_until
from tests.support.s3 import BUCKET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def direct_page(
    browser,
    s3,
    s3_env,
    s3_webs,
    s3_workers,
    user,
    request,
):
    """The page of an S3 web process, logged in; the bucket lets it POST (CORS, as MinIO)."""
    web = s3_webs[0]
    s3.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [web.url], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"]}
            ]
        },
    )
    with logged_in_page(browser, web.url, user, request) as page:
        yield page


def test_the_page_uploads_straight_to_the_bucket(direct_page, s3_env, s3_webs):
    web, page = s3_webs[0], direct_page
    sent = []
    page.on(
        "request",
        lambda request: sent.append(
            (request.method, request.url, request.headers.get("content-type", ""))
        ),
    )
    page.evaluate(RECORD_UPLOAD_STATES)
    page.evaluate(DROP_FILES, [[["direct.csv", "a,b\n" + "1,2\n" * 20000]]])
    page.wait_for_selector('#uploads li[data-name="direct.csv"][data-status=DONE]')
    page.wait_for_selector('#rows tr[data-name="direct.csv"][data-status=DONE]')
    states = page.evaluate("window.__states")["direct.csv"]
    assert states[0] == "UPLOADING+bar" and states[-1] == "DONE", states
    endpoint = s3_env["AWS_S3_ENDPOINT_URL"]
    assert [url for method, url, _ in sent if method == "POST" and url.startswith(endpoint)]
    multipart_to_web = [
        url
        for method, url, kind in sent
        if url.startswith(web.url) and kind.startswith("multipart/")
    ]
    assert not multipart_to_web, "the bytes went through the web process"


def test_cancelling_a_direct_upload_deletes_its_row(direct_page):
    """The POST to the bucket is throttled so it is in flight; Cancel aborts it and deletes the
    AWAITING_UPLOAD row, which would otherwise count against the quota until the sweep."""
    page = direct_page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64 * 1024},
    )
    page.set_input_files(
        "#file-input",
        files=[
            {
                "name": "slow-direct.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"\1" * (1024 * 1024),
            }
        ],
    )
    page.wait_for_function(
        """() => document.querySelector('#uploads li[data-name="slow-direct.bin"] progress')
                   ?.value > 0"""
    )
    assert File.objects.filter(name="slow-direct.bin", status=FileStatus.AWAITING_UPLOAD).exists()
    page.get_by_role("button", name="Cancel slow-direct.bin").click()
    page.wait_for_selector('#uploads li[data-name="slow-direct.bin"][data-status=CANCELLED]')
    wait_until(
        lambda: not File.objects.filter(name="slow-direct.bin").exists(),
        WAIT_MS / 1000,
        "the cancelled direct upload's row is still there",
    )
