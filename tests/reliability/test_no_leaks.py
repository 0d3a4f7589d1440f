"""Websocket churn leaves the channel layer as it was: no group memberships or Redis keys
leak from connections that subscribed and went away (or whose server restarted)."""

import asyncio

import pytest
import redis
from django.conf import settings

from tests.support.wsclient import Subscription, group_size

pytestmark = pytest.mark.django_db(transaction=True)

CYCLES = 1000
SUBSCRIBE = "subscription { fileUpdates { id status } }"


def layer_keys() -> set[bytes]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    return {key for key in client.scan_iter(f"{prefix}*") if b":group:" in key}


async def test_subscribe_and_disconnect_cycles_leave_no_trace(uvicorn_server, token, user):
    before_members = await group_size(user)
    before_keys = layer_keys()
    for cycle in range(CYCLES):
        subscription = await Subscription.open(uvicorn_server.ws_url, token=token)
        # Half wait until the server has joined the group; half close at once, racing the
        # join (a subscription cancelled while joining is where memberships used to leak).
        await subscription.subscribe(SUBSCRIBE, owner=user if cycle % 2 else None)
        await subscription.close()
    # The server leaves the group when it notices the close: wait for that, with a timeout.
    async with asyncio.timeout(10):
        while await group_size(user) != before_members:
            await asyncio.sleep(0.01)
    leaked = layer_keys() - before_keys
    assert not leaked, leaked
