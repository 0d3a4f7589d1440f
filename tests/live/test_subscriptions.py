"""`fileUpdates` over real websockets on a real server: who may connect, who sees what."""

import asyncio

import pytest
import websockets
from asgiref.sync import sync_to_async

from files_app import services
from files_app.models import File
from tests.support.operations import SUBSCRIBE, is_final, upload
from tests.support.users import login_cookie
from tests.support.wsclient import PROTOCOL, Subscription, close_code_after_init

pytestmark = pytest.mark.django_db(transaction=True)

# Longer than redis-py 8's default 5 s socket timeout, which used to kill idle subscribers.
IDLE_SECONDS = 6


async def test_connection_without_credentials_is_closed_4401(uvicorn_server):
    # 4401, not 4403: graphql-ws clients give up on 4401 instead of retrying forever.
    assert await close_code_after_init(uvicorn_server, "{}") == 4401


async def test_connection_with_a_wrong_token_is_closed_4401(uvicorn_server):
    payload = '{"Authorization": "Bearer wrong"}'
    assert await close_code_after_init(uvicorn_server, payload) == 4401


async def test_browser_session_from_our_origin_connects(uvicorn_server, user, celery_worker):
    cookie = await login_cookie(uvicorn_server, user)
    subscription = await Subscription.open(
        uvicorn_server.ws_url, origin=uvicorn_server.url, cookie=cookie
    )
    await subscription.subscribe(SUBSCRIBE, owner=user)
    token = await sync_to_async(services.api_token_create)(user=user)
    await upload(uvicorn_server, token, "a.txt", b"from a browser")
    events = await subscription.files_until(is_final, timeout=30)
    await subscription.close()
    assert events[-1]["status"] == "DONE"


async def test_browser_session_from_a_foreign_origin_is_refused(uvicorn_server, user):
    cookie = await login_cookie(uvicorn_server, user)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            uvicorn_server.ws_url,
            subprotocols=[PROTOCOL],
            origin="https://evil.example",
            additional_headers={"Cookie": cookie},
        )
    assert refused.value.response.status_code == 403


async def test_non_browser_client_without_origin_connects_with_a_token(uvicorn_server, token):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)  # asserts ack
    await subscription.close()


async def test_cannot_subscribe_to_someone_elses_file(
    uvicorn_server, token, other_token, celery_worker
):
    file = await upload(uvicorn_server, token, "private.txt", b"secret")
    intruder = await Subscription.open(uvicorn_server.ws_url, token=other_token)
    await intruder.subscribe(SUBSCRIBE, {"ids": [file["id"]]})
    message = await intruder.receive()
    closing = await intruder.receive()
    await intruder.close()
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert closing["type"] == "complete"


async def test_updates_of_other_users_are_not_delivered(
    uvicorn_server, token, other_token, other_user, celery_worker
):
    watcher = await Subscription.open(uvicorn_server.ws_url, token=other_token)
    await watcher.subscribe(SUBSCRIBE, owner=other_user)
    await upload(uvicorn_server, token, "alice.txt", b"alice only")
    own = await upload(uvicorn_server, other_token, "bob.txt", b"bob's")
    events = await watcher.files_until(is_final, timeout=30)
    await watcher.close()
    assert {event["id"] for event in events} == {own["id"]}


async def test_subscription_survives_an_idle_period(uvicorn_server, token, user, celery_worker):
    subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    await asyncio.sleep(IDLE_SECONDS)  # the idleness under test, not a synchronisation
    await upload(uvicorn_server, token, "later.txt", b"after a quiet while")
    events = await subscription.files_until(is_final, timeout=30)
    await subscription.close()
    assert events[-1]["status"] == "DONE"
    assert await File.objects.acount() == 1
