"""The live page on S3 sends the bytes straight to the bucket (frontend/src/directUpload.ts),
with real progress, in headless Chromium against the S3 web processes and workers."""

import pytest

from tests.conftest import PASSWORD
from tests.scale.conftest import BUCKET
from tests.test_page import DROP_FILES, RECORD_UPLOAD_STATES, WAIT_MS, browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_uploads_straight_to_the_bucket(
    browser,  # noqa: F811 (the fixture imported above)
    s3,
    s3_env,
    s3_webs,
    s3_workers,
    user,
):
    web = s3_webs[0]
    # The browser posts to another origin (the bucket): S3 must allow it, as with MinIO.
    s3.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [web.url], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"]}
            ]
        },
    )
    context = browser.new_context(base_url=web.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    sent = []
    page.on(
        "request",
        lambda request: sent.append(
            (request.method, request.url, request.headers.get("content-type", ""))
        ),
    )
    try:
        page.goto("/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#live[data-state=live]")
        page.evaluate(RECORD_UPLOAD_STATES)
        page.evaluate(DROP_FILES, [[["direct.csv", "a,b\n" + "1,2\n" * 20000]]])
        page.wait_for_selector('#uploads li[data-name="direct.csv"][data-status=DONE]')
        page.wait_for_selector('#rows tr[data-name="direct.csv"][data-status=DONE]')
        states = page.evaluate("window.__states")["direct.csv"]
    finally:
        context.close()
    assert states[0] == "UPLOADING+bar" and states[-1] == "DONE", states
    endpoint = s3_env["AWS_S3_ENDPOINT_URL"]
    assert [url for method, url, _ in sent if method == "POST" and url.startswith(endpoint)]
    multipart_to_web = [
        url
        for method, url, kind in sent
        if url.startswith(web.url) and kind.startswith("multipart/")
    ]
    assert not multipart_to_web, "the bytes went through the web process"
