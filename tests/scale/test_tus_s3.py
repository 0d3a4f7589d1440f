"""tus on S3 (moto's server, real HTTP): each PATCH's bytes become parts of a multipart upload
under the file's final key; what a PATCH leaves below S3's 5 MiB part minimum (but the end
of the file) is not stored, and the offset says so; the last byte completes the object."""

import httpx
import pytest
from django.core.files.storage import default_storage

from files_app import dispatch
from files_app.models import File, FileStatus, ResumableUpload, UploadReservation
from files_app.sizes import MIB
from tests.support.graphql import asgi_request
from tests.support.held import held_patch
from tests.support.processes import wait_until
from tests.support.s3 import BUCKET
from tests.support.tus import STREAM, bearer, create, patch

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = b"123456789\n" * (13 * MIB // 10)  # 13 MiB of text


def multipart_uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_tus_on_s3_in_parts(s3_settings, s3, token, user, monkeypatch):
    queued = []  # not to the session's worker, which stores on local disk, not on moto
    monkeypatch.setattr(dispatch, "file_enqueue", lambda *, file_id, **_: queued.append(file_id))
    url = create(token, size=len(CONTENT)).headers["Location"]
    upload = ResumableUpload.objects.get()
    assert upload.multipart_id

    short = patch(url, token, 0, CONTENT[: 2 * MIB])  # below a part: nothing stored
    assert short.status_code == 204 and short.headers["Upload-Offset"] == "0"
    first = patch(url, token, 0, CONTENT[: 6 * MIB])
    assert first.headers["Upload-Offset"] == str(6 * MIB)
    assert len(ResumableUpload.objects.get().parts) == 1
    rest = patch(url, token, 6 * MIB, CONTENT[6 * MIB :])
    assert rest.status_code == 204 and rest.headers["Upload-Offset"] == str(len(CONTENT))

    file = File.objects.get(owner=user)
    assert file.status == FileStatus.PENDING  # queued by the last PATCH, to no worker
    assert [str(file_id) for file_id in queued] == [str(file.pk)]
    assert file.kind == "TEXT"
    assert default_storage.open(file.stored_file.name).read() == CONTENT
    assert ResumableUpload.objects.get().multipart_id == ""


def test_termination_on_s3_aborts_the_multipart_upload(s3_settings, s3, token):
    before = len(multipart_uploads(s3))
    url = create(token, size=len(CONTENT)).headers["Location"]
    patch(url, token, 0, CONTENT[: 6 * MIB])
    assert len(multipart_uploads(s3)) == before + 1

    assert asgi_request("DELETE", url, headers=bearer(token)).status_code == 204
    assert not File.objects.exists()
    assert len(multipart_uploads(s3)) == before


def test_a_racing_patch_on_s3_is_refused_unread(s3, s3_webs, token, user):
    """One writer per upload on S3 too (docs/reliability.md, 29): a PATCH sent while another
    writes the upload is 423 before a byte of it is read; the writer's bytes are the file."""
    web = s3_webs[0]
    created = httpx.post(
        f"{web.url}/tus/",
        headers={**bearer(token), "Upload-Length": str(len(CONTENT))},
        timeout=30,
    )
    path = httpx.URL(created.headers["Location"]).path
    file = File.objects.get(owner=user)
    slow = held_patch(web, token, path, 0, CONTENT, sent=100)
    wait_until(
        lambda: UploadReservation.objects.filter(file=file).exists(), 10, "no writer held it"
    )
    racing = httpx.patch(
        f"{web.url}{path}",
        content=b"x" * len(CONTENT),
        headers={**bearer(token), "Upload-Offset": "0", "Content-Type": STREAM},
        timeout=60,
    )
    assert racing.status_code == 423, racing.text
    slow.finish(slow.rest)
    status, headers, _ = slow.response(timeout=60)
    assert (status, headers["upload-offset"]) == (204, str(len(CONTENT)))
    stored = s3.get_object(Bucket=BUCKET, Key=File.objects.get(pk=file.pk).stored_file.name)
    assert stored["Body"].read() == CONTENT
