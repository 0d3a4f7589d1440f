"""The per-owner counters (bytes stored, files by status) stay exact through every write a
file goes through, are put right by `files_recount`, and are what the quota reads."""

import asyncio
from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from files_app import services
from files_app.failures import FailureCode
from files_app.models import File, FileStatus, OwnerUsage
from files_app.services.audit import storage_audit
from files_app.services.recovery import files_expire_awaiting
from schema.graphql.ids import decode_file_id
from tests.support import operations
from tests.support.files import make_file
from tests.support.samples import truncated_jpeg
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id size } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"
COLUMNS = {status: status.lower() for status in FileStatus.values}


def counted(owner) -> dict:
    """The owner's counter row as a dict (zeros when it has none)."""
    row = OwnerUsage.objects.filter(owner=owner).values("bytes", *COLUMNS.values()).first()
    return row or dict.fromkeys(["bytes", *COLUMNS.values()], 0)


def actual(owner) -> dict:
    """What a full count of the owner's files says, written independently of the service."""
    files = File.objects.filter(owner=owner)
    found = files.aggregate(
        bytes=Sum("size"),
        **{column: Count("pk", filter=Q(status=s)) for s, column in COLUMNS.items()},
    )
    return {**found, "bytes": found["bytes"] or 0}


def exact(owner) -> dict:
    assert counted(owner) == actual(owner)
    return counted(owner)


def statuses(owner) -> dict:
    return {column: n for column, n in exact(owner).items() if column != "bytes" and n}


def upload(gql, name: str, content: bytes) -> str:
    body = gql.upload(UPLOAD, {"file": (name, content)}, {"file": None}).json()
    assert "errors" not in body, body
    return body["data"]["uploadFile"]["id"]


def test_counters_follow_a_file_from_upload_to_deletion(gql, user):
    file_id = upload(gql, "a.txt", b"hello\n" * 10)
    assert exact(user)["bytes"] == 60 and statuses(user) == {"pending": 1}
    row = File.objects.get(owner=user)
    services.file_process(file_id=row.pk)
    assert statuses(user) == {"done": 1}
    services.file_reprocess(user=user, file_id=row.pk)
    assert statuses(user) == {"pending": 1}
    started = services.file_start_processing(file_id=row.pk)
    assert statuses(user) == {"processing": 1}
    services.file_fail(file_id=row.pk, attempt=started.attempts, code=FailureCode.UNEXPECTED)
    assert statuses(user) == {"failed": 1}
    upload(gql, "b.txt", b"x" * 40)
    assert exact(user)["bytes"] == 100
    assert "errors" not in gql(DELETE, id=file_id)
    assert exact(user)["bytes"] == 40 and statuses(user) == {"pending": 1}


def test_counters_follow_the_sweep_the_audit_and_bulk_deletes(user, other_user):
    awaiting = make_file(user, b"", name="direct.bin", declared_size=500)
    File.objects.filter(pk=awaiting.pk).update(status=FileStatus.AWAITING_UPLOAD)
    lost = make_file(user, b"y" * 30, name="lost.bin")
    make_file(user, b"z" * 7, name="kept.bin")
    make_file(other_user, b"o" * 9, name="other.bin")
    assert statuses(user) == {"awaiting_upload": 1, "pending": 2}
    assert files_expire_awaiting(now=timezone.now() + timedelta(days=30)) == 1
    assert exact(user)["bytes"] == 37
    lost.stored_file.delete(save=False)
    assert storage_audit(fix=True).missing == [str(lost.pk)]
    assert statuses(user) == {"pending": 1, "failed": 1}
    File.objects.filter(owner=user).delete()  # a bulk delete, as the admin's
    assert exact(user)["bytes"] == 0 and statuses(user) == {}
    assert exact(other_user)["bytes"] == 9


def test_a_rolled_back_write_leaves_the_counter_as_it_was(user):
    make_file(user, b"a" * 10)
    before = exact(user)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_file(user, b"b" * 20)
        File.objects.filter(owner=user).update(status=FileStatus.DONE)
        raise RuntimeError
    assert exact(user) == before


def test_files_recount_corrects_a_counter_that_drifted(user, other_user):
    make_file(user, b"a" * 10)
    make_file(other_user, b"b" * 5)
    OwnerUsage.objects.filter(owner=user).update(bytes=F("bytes") + 999, pending=0, done=3)
    OwnerUsage.objects.filter(owner=other_user).delete()
    out = StringIO()
    call_command("files_recount", stdout=out)
    assert out.getvalue().startswith("2 counter(s) corrected.")
    assert exact(user)["bytes"] == 10 and exact(other_user)["bytes"] == 5
    call_command("files_recount", "--user", user.username, stdout=out)
    assert out.getvalue().endswith("0 counter(s) corrected.\n")


def test_the_quota_counts_stored_and_reserved_bytes_exactly(gql, user, settings):
    settings.STORAGE_QUOTA = 1000
    settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 0
    first = upload(gql, "a.bin", b"a" * 600)
    reservation = services.upload_reserve(owner=user, size=300)
    refused = gql.upload(UPLOAD, {"file": ("b.bin", b"b" * 101)}, {"file": None}).json()
    assert refused["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED", refused
    upload(gql, "c.bin", b"c" * 100)  # 600 stored + 300 reserved + 100: exactly the quota
    services.upload_reservation_release(reservation=reservation)
    assert "errors" not in gql(DELETE, id=first)
    upload(gql, "d.bin", b"d" * 900)  # 100 + 900
    assert exact(user)["bytes"] == 1000


def test_the_quota_reads_the_counter_not_the_rows(gql, user, settings):
    """One indexed read, not a sum over every file: a counter that says the quota is used up
    refuses the upload, whatever the rows say."""
    settings.STORAGE_QUOTA = 1000
    make_file(user, b"a" * 10)
    OwnerUsage.objects.filter(owner=user).update(bytes=1000)
    refused = gql.upload(UPLOAD, {"file": ("b.bin", b"b")}, {"file": None}).json()
    assert refused["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED", refused


@pytest.mark.django_db(transaction=True)
async def test_counters_stay_exact_under_concurrent_uploads_and_a_real_worker(
    uvicorn_server, celery_worker, user, token
):
    """Eight uploads at once (the cap) through a real server, processed by a real worker to
    DONE or FAILED (a truncated JPEG), then some deleted: the writes of a deployment, racing."""
    contents = [(f"note-{i}.txt", f"note {i}\n".encode() * (i + 1)) for i in range(6)]
    contents += [("broken.jpg", truncated_jpeg()), ("broken-2.jpg", truncated_jpeg())]
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(operations.WATCH_ALL)
    files = await asyncio.gather(
        *(operations.upload(uvicorn_server, token, name, c) for name, c in contents)
    )
    final: dict[str, str] = {}
    while len(final) < len(files):
        event = await subscription.next_file(timeout=60)
        if operations.is_final(event):
            final[event["id"]] = event["status"]
    await subscription.close()
    assert sorted(final.values()).count(FileStatus.FAILED) == 2, final
    for file in files[:3]:
        await sync_to_async(services.file_delete)(user=user, file_id=decode_file_id(file["id"]))
    usage = await sync_to_async(exact)(user)
    assert usage["done"] == 3 and usage["failed"] == 2 and usage["pending"] == 0, usage
    assert usage["bytes"] == sum(len(content) for _, content in contents[3:])
