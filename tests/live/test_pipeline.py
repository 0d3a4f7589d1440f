"""End to end on real processes: multipart upload to a real server (uvicorn and daphne),
a real Celery worker, Redis channel layer, and websocket subscriptions."""

import hashlib

import httpx
import pytest

from files_app.models import File, FileStatus
from tests.support import samples
from tests.support.operations import SUBSCRIBE, is_final, upload
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["uvicorn", "daphne"])
def server(request, celery_worker):
    return request.getfixturevalue(f"{request.param}_server")


async def test_upload_is_processed_and_pushed_live_in_order(server, token, user):
    content = samples.png(64, 48)
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)

    uploaded = await upload(server, token, "picture.png", content)
    assert uploaded["status"] == "PENDING"
    events = await subscription.files_until(is_final, timeout=30)
    await subscription.close()

    statuses = [event["status"] for event in events]
    assert statuses[0] == "PENDING" and statuses[-1] == "DONE", statuses
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == [
        "PENDING",
        "PROCESSING",
        "DONE",
    ]
    versions = [event["version"] for event in events]
    assert versions == sorted(set(versions)), "versions must only grow"
    assert {event["id"] for event in events} == {uploaded["id"]}

    done = events[-1]
    assert done["size"] == len(content)
    assert done["sha256"] == hashlib.sha256(content).hexdigest()
    assert done["contentType"] == "image/png"
    assert done["processed"] is True and done["progress"] == 1.0 and done["error"] is None

    async with httpx.AsyncClient() as client:
        download = await client.get(done["url"], headers={"Authorization": f"Bearer {token}"})
    assert download.status_code == 200
    assert download.content == content
    stored = await File.objects.aget()
    assert stored.status == FileStatus.DONE


async def test_subscribing_after_done_gets_the_current_state_first(server, token):
    uploaded = await upload(server, token, "notes.txt", b"plain text\n" * 100)
    watcher = await Subscription.open(server.ws_url, token=token)
    await watcher.subscribe(SUBSCRIBE, {"ids": [uploaded["id"]]})
    events = await watcher.files_until(is_final, timeout=30)
    await watcher.close()
    assert events[-1]["status"] == "DONE"

    late = await Subscription.open(server.ws_url, token=token)
    await late.subscribe(SUBSCRIBE, {"ids": [uploaded["id"]]})
    first = await late.next_file()
    await late.close()
    assert first["status"] == "DONE"
    assert first["contentType"] == "text/plain"
    assert first["version"] == events[-1]["version"]
