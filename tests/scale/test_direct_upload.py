"""Direct uploads: a presigned POST to moto's S3 server, then `completeUpload`.

The end-to-end test runs on the S3 web processes and workers of this package's conftest; the
refusals, the limits, the expiry and the public endpoint run in-process, with this process's
settings pointed at the same moto server (no mocking: every S3 call is real HTTP)."""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from django.utils import timezone

from files_app import services
from files_app.models import File, FileStatus, staging_name
from tests.support.graphql import GraphQL
from tests.support.processes import wait_until
from tests.support.s3 import BUCKET
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

FILE_FIELDS = "id name size status sha256 version"
CREATE = (
    "mutation($name: String!, $size: BigInt!) { createUploadUrl(name: $name, size: $size) "
    "{ url expiresAt fields { name value } file { id name size status } } }"
)
COMPLETE = f"mutation($id: ID!) {{ completeUpload(id: $id) {{ {FILE_FIELDS} }} }}"
CONTENT = b"direct,upload\n" + b"1,2\n" * 5000


def headers(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_to_storage(issued: dict, content: bytes) -> httpx.Response:
    """What a browser does with the presigned POST: the fields, then the file."""
    fields = {field["name"]: field["value"] for field in issued["fields"]}
    return httpx.post(issued["url"], data=fields, files={"file": ("x", content)}, timeout=60)


def code_of(answer: dict) -> str:
    return answer["errors"][0]["extensions"]["code"]


async def test_a_direct_upload_ends_done(s3, s3_env, s3_webs, s3_workers, token, user):
    web1, web2 = s3_webs
    async with httpx.AsyncClient(timeout=60, headers=headers(token)) as client:
        answer = (
            await client.post(
                f"{web1.url}/graphql/",
                json={"query": CREATE, "variables": {"name": "data.csv", "size": len(CONTENT)}},
            )
        ).json()
        issued = answer["data"]["createUploadUrl"]
        assert issued["file"]["status"] == "AWAITING_UPLOAD", answer
        assert issued["url"].startswith(s3_env["AWS_S3_ENDPOINT_URL"])
        stored = await httpx.AsyncClient().post(
            issued["url"],
            data={f["name"]: f["value"] for f in issued["fields"]},
            files={"file": ("data.csv", CONTENT)},
        )
        assert stored.status_code in (200, 201, 204), stored.text

        subscription = await Subscription.open(web2.ws_url, token=token)
        await subscription.subscribe(
            f"subscription {{ fileUpdates {{ {FILE_FIELDS} }} }}", owner=user
        )
        file_id = issued["file"]["id"]
        completed = (
            await client.post(
                f"{web2.url}/graphql/", json={"query": COMPLETE, "variables": {"id": file_id}}
            )
        ).json()
        assert completed["data"]["completeUpload"]["status"] == "PENDING", completed
        seen = []
        while not seen or seen[-1]["status"] != "DONE":
            seen.append(await subscription.next_file(timeout=60))
            assert seen[-1]["status"] != "FAILED", seen
        await subscription.close()
        assert seen[-1]["sha256"] == hashlib.sha256(CONTENT).hexdigest()

        # Completing again changes nothing, and runs nothing again.
        again = (
            await client.post(
                f"{web1.url}/graphql/", json={"query": COMPLETE, "variables": {"id": file_id}}
            )
        ).json()
        assert again["data"]["completeUpload"]["status"] == "DONE", again
    row = await File.objects.aget(owner=user)
    assert (row.attempts, row.kind, row.version) == (1, "CSV", seen[-1]["version"])


def test_a_missing_or_wrong_sized_upload_is_refused_and_not_processed(s3_settings, s3, gql, user):
    issued = gql(CREATE, name="a.txt", size=1000)["data"]["createUploadUrl"]
    file_id = issued["file"]["id"]
    key = staging_name(File.objects.get(owner=user).pk)  # where the URL sends the bytes

    missing = gql(COMPLETE, id=file_id)
    assert code_of(missing) == "UPLOAD_MISSING", missing
    assert "send them to the upload URL" in missing["errors"][0]["message"]

    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * 999)  # a server ignoring the condition
    wrong = gql(COMPLETE, id=file_id)
    assert code_of(wrong) == "UPLOAD_SIZE_MISMATCH", wrong
    assert "999 bytes arrived, not the 1,000 declared" in wrong["errors"][0]["message"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=key), "deleted"

    row = File.objects.get(owner=user)
    assert (row.status, row.attempts, row.version) == (FileStatus.AWAITING_UPLOAD, 0, 1)
    # The row waits for a right upload while its URL lasts.
    assert post_to_storage(issued, b"y" * 1000).status_code in (200, 201, 204)
    assert gql(COMPLETE, id=file_id)["data"]["completeUpload"]["status"] == "PENDING"


def test_limits_apply_when_the_url_is_issued(s3_settings, gql, client, user):
    s3_settings.STORAGE_QUOTA = 5000
    s3_settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 2
    too_big = gql(CREATE, name="big", size=s3_settings.MAX_UPLOAD_SIZE + 1)
    assert code_of(too_big) == "FILE_TOO_LARGE", too_big
    assert code_of(gql(CREATE, name="empty", size=0)) == "INVALID_UPLOAD"
    assert code_of(gql(CREATE, name="over", size=5001)) == "QUOTA_EXCEEDED"
    first = gql(CREATE, name="one", size=3000)
    assert first["data"]["createUploadUrl"]["file"]["status"] == "AWAITING_UPLOAD", first
    # The issued URL counts at once: 3,000 of 5,000 bytes are taken, and one of two files.
    assert code_of(gql(CREATE, name="two", size=2001)) == "QUOTA_EXCEEDED"
    assert gql(CREATE, name="two", size=2000)["data"]["createUploadUrl"]
    assert code_of(gql(CREATE, name="three", size=1)) == "RATE_LIMITED"
    assert File.objects.filter(owner=user).count() == 2
    assert code_of(GraphQL(client)(CREATE, name="x", size=1)) == "UNAUTHENTICATED"


def test_direct_uploads_need_s3(gql, user):
    answer = gql(CREATE, name="a.txt", size=10)
    assert code_of(answer) == "DIRECT_UPLOAD_UNAVAILABLE", answer
    assert "uploadFile" in answer["errors"][0]["message"]
    assert not File.objects.exists()
    # Issued while S3 was configured, completed after it no longer is.
    issued = File.objects.create(
        owner=user, name="a.txt", size=10, status=FileStatus.AWAITING_UPLOAD
    )
    assert code_of(gql(COMPLETE, id=str(issued.pk))) == "DIRECT_UPLOAD_UNAVAILABLE"


def test_an_abandoned_upload_expires_with_its_object(s3_settings, s3, gql, user):
    issued = gql(CREATE, name="gone.bin", size=100)["data"]["createUploadUrl"]
    assert post_to_storage(issued, b"z" * 100).status_code in (200, 201, 204)
    key = staging_name(File.objects.get(owner=user).pk)
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == 100

    lifetime = s3_settings.DIRECT_UPLOAD_URL_EXPIRE + s3_settings.DIRECT_UPLOAD_GRACE
    assert services.files_recover()["expired"] == 0, "not before its URL and grace are over"
    later = timezone.now() + timedelta(seconds=lifetime + 1)
    assert services.files_recover(now=later)["expired"] == 1
    assert not File.objects.exists()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=key), "object deleted"


def test_presigned_urls_use_the_public_endpoint(s3_settings, s3, user):
    """The URLs handed to clients are signed for the public host, and S3 accepts them there
    (moto answers on both names of this machine, as compose's MinIO does)."""
    from files_app import storage

    public = s3_settings.AWS_S3_ENDPOINT_URL.replace("127.0.0.1", "localhost")
    s3_settings.AWS_S3_PUBLIC_ENDPOINT_URL = public
    key = f"uploads/{user.pk}/public-endpoint"
    post = storage.presigned_upload(key, size=5, expires_in=60)
    assert urlsplit(post["url"]).netloc == urlsplit(public).netloc
    sent = httpx.post(post["url"], data=post["fields"], files={"file": ("x", b"hello")})
    assert sent.status_code in (200, 201, 204), sent.text

    url = storage.presigned_download_url(key, parameters={})
    assert urlsplit(url).netloc == urlsplit(public).netloc
    fetched = httpx.get(url)
    assert (fetched.status_code, fetched.content) == (200, b"hello")


def test_a_post_after_completion_cannot_replace_the_processed_bytes(
    s3, s3_webs, s3_workers, token, user
):
    """The presigned POST stays usable until it expires, also after `completeUpload`: posted
    again, its bytes land on the staging key, never on the file's, so the file serves the
    bytes it was processed from (docs/reliability.md, 29)."""
    web = s3_webs[0]
    replacement = (b"<html><script>alert('replaced')</script>" + b" " * len(CONTENT))[
        : len(CONTENT)
    ]

    def client(query: str, **variables) -> dict:
        answer = httpx.post(
            f"{web.url}/graphql/",
            json={"query": query, "variables": variables},
            headers=headers(token),
            timeout=60,
        )
        return answer.json()

    issued = client(CREATE, name="data.csv", size=len(CONTENT))["data"]["createUploadUrl"]
    assert post_to_storage(issued, CONTENT).status_code in (200, 201, 204)
    completed = client(COMPLETE, id=issued["file"]["id"])
    assert completed["data"]["completeUpload"]["status"] == "PENDING", completed
    done = File.objects.filter(owner=user, status__in=(FileStatus.DONE, FileStatus.FAILED))
    wait_until(done.exists, 60, "the direct upload was never processed")
    row = done.get()
    assert (row.status, row.sha256) == (FileStatus.DONE, hashlib.sha256(CONTENT).hexdigest())

    assert post_to_storage(issued, replacement).status_code in (200, 201, 204), "still valid"
    stored = s3.get_object(Bucket=BUCKET, Key=row.stored_file.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == row.sha256, "the processed bytes were replaced"
    assert client(COMPLETE, id=issued["file"]["id"])["data"]["completeUpload"]["status"] == "DONE"
