"""Who may keep a websocket, on real servers: open connections are checked again (logout,
deleted token, deactivated user, lost rights), the handshake's Host is checked, and a user's
connections are capped across web processes."""

import asyncio
import signal

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils.crypto import get_random_string

from files_app import services
from files_app.models import ApiToken, File, FileStatus
from schema.graphql.ids import decode_file_id
from tests.support.operations import SUBSCRIBE, is_final, upload
from tests.support.processes import Server
from tests.support.users import grant_every_file_right, login_cookie
from tests.support.wsclient import PROTOCOL, Subscription, close_code_after_init, group_size

pytestmark = pytest.mark.django_db(transaction=True)

REVALIDATE_SECONDS = 0.5
MAX_CONNECTIONS = 3
SETTINGS = {
    "WEBSOCKET_REVALIDATE_SECONDS": str(REVALIDATE_SECONDS),
    "WEBSOCKET_MAX_CONNECTIONS_PER_USER": str(MAX_CONNECTIONS),
}
# Generous against a loaded machine; what is proven is that the connection closes at all.
CLOSE_TIMEOUT = 15
UNAUTHORIZED, TOO_MANY_CONNECTIONS = 4401, 4429
# A connection stops counting this long after its last refresh (three revalidations).
COUNT_LIFE_SECONDS = REVALIDATE_SECONDS * 3


@pytest.fixture(scope="module")
def server(django_db_setup, process_logs):
    """A server that revalidates its websockets every half second and caps them at three
    per user."""
    started = Server("uvicorn", process_logs, env=SETTINGS)
    yield started
    started.stop()


async def poll(condition, timeout=CLOSE_TIMEOUT):
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)  # polling the outcome, bounded by the timeout


async def log_out(server, cookie: str) -> None:
    """The page's "Log out" button: a POST with the CSRF token."""
    csrf = get_random_string(32)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/accounts/logout/",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Cookie": f"{cookie}; csrftoken={csrf}"},
        )
    assert response.status_code == 302, response.text


# --- revalidation ---------------------------------------------------------------------------


async def test_a_logged_out_session_is_closed_4401(server, user):
    cookie = await login_cookie(server, user)
    subscription = await Subscription.open(server.ws_url, origin=server.url, cookie=cookie)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    with pytest.raises(TimeoutError):  # a valid session stays through several checks
        await subscription.close_code(REVALIDATE_SECONDS * 4)
    await log_out(server, cookie)
    assert await subscription.close_code(CLOSE_TIMEOUT) == UNAUTHORIZED
    await poll(lambda: has_members(user, 0))  # and it left its groups


async def has_members(user, count) -> bool:
    return await group_size(user) == count


async def test_a_deleted_token_is_closed_4401(server, user, token):
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    await ApiToken.objects.filter(user=user).adelete()
    assert await subscription.close_code(CLOSE_TIMEOUT) == UNAUTHORIZED


async def test_a_deactivated_user_is_closed_4401(server, user, token):
    subscription = await Subscription.open(server.ws_url, token=token)
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    assert await subscription.close_code(CLOSE_TIMEOUT) == UNAUTHORIZED


async def processed(server, token, name) -> str:
    """Upload a file and wait until it is processed; its id."""
    file_id = (await upload(server, token, name, b"contents of " + name.encode()))["id"]
    await poll(
        lambda: File.objects.filter(pk=decode_file_id(file_id), status=FileStatus.DONE).aexists(),
        timeout=30,
    )
    return file_id


def demote(user) -> None:
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    user.user_permissions.clear()
    user.groups.clear()


async def test_a_demoted_staff_member_gets_only_their_own_files(
    server, celery_worker, staff_user, staff_token, other_user, other_token
):
    await sync_to_async(grant_every_file_right)(staff_user)
    others = await processed(server, other_token, "before.txt")
    all_files_members = await group_size()
    watcher = await Subscription.open(server.ws_url, token=staff_token)
    await watcher.subscribe(SUBSCRIBE, operation_id="all", owner=staff_user)
    # The hub joins the viewer's groups side by side: the all-files one may come just after
    # the owner's group that `subscribe` waits for.
    await poll(lambda: is_all_files_members(all_files_members + 1))
    await watcher.subscribe(SUBSCRIBE, {"ids": [others]}, operation_id="by-id")
    assert (await watcher.next_file())["id"] == others  # allowed while staff
    seen = await processed(server, other_token, "seen.txt")
    assert seen in {
        event["id"]
        for event in await watcher.files_until(
            lambda event: event["id"] == seen and is_final(event), timeout=30
        )
    }

    await sync_to_async(demote)(staff_user)
    await poll(lambda: is_all_files_members(all_files_members))
    await reprocessed(other_user, others)
    hidden = await processed(server, other_token, "hidden.txt")
    own = (await upload(server, staff_token, "own.txt", b"mine"))["id"]
    # Still connected: their own file's events arrive, and nothing else before them.
    events = await watcher.files_until(
        lambda event: event["id"] == own and is_final(event), timeout=30
    )
    await watcher.close()
    assert {event["id"] for event in events} == {own}, (others, seen, hidden)


async def reprocessed(owner, file_id) -> None:
    pk = decode_file_id(file_id)
    version = (await File.objects.aget(pk=pk)).version
    await sync_to_async(services.file_reprocess)(user=owner, file_id=pk)
    await poll(
        lambda: File.objects.filter(pk=pk, status=FileStatus.DONE, version__gt=version).aexists(),
        timeout=30,
    )


async def is_all_files_members(count) -> bool:
    return await group_size() == count


# --- the handshake --------------------------------------------------------------------------


async def test_a_host_not_in_allowed_hosts_is_refused(uvicorn_server, token):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            f"ws://evil.example:{uvicorn_server.port}/graphql/",
            subprotocols=[PROTOCOL],
            host="127.0.0.1",
            port=uvicorn_server.port,
            proxy=None,
        )
    assert refused.value.response.status_code == 403
    await (await Subscription.open(uvicorn_server.ws_url, token=token)).close()  # allowed


# --- connections per user -------------------------------------------------------------------


async def test_connections_per_user_are_capped_across_web_processes(server, process_logs, token):
    other_process = await asyncio.to_thread(Server, "uvicorn", process_logs, SETTINGS)
    on_other = []
    try:
        for _ in range(MAX_CONNECTIONS - 1):
            on_other.append(await Subscription.open(other_process.ws_url, token=token))
        last = await Subscription.open(server.ws_url, token=token)
        # Open longer than a count lives unless refreshed: they still count.
        await asyncio.sleep(COUNT_LIFE_SECONDS * 2)  # the idleness under test
        payload = '{"Authorization": "Bearer %s"}' % token
        assert await close_code_after_init(server, payload) == TOO_MANY_CONNECTIONS
        assert await close_code_after_init(other_process, payload) == TOO_MANY_CONNECTIONS

        await last.close()  # a closed connection frees its slot
        await poll(lambda: connects(server, token))
        # A killed web process can't say goodbye: its connections stop counting once their
        # last refresh is older than three revalidation intervals.
        other_process.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(other_process.process.wait)
        await poll(lambda: connects(server, token, count=MAX_CONNECTIONS))
    finally:
        for subscription in on_other:
            await subscription.close()
        await asyncio.to_thread(other_process.stop)


async def connects(server, token, count=1) -> bool:
    """Whether `count` more connections are accepted now (all closed again after)."""
    opened = []
    try:
        for _ in range(count):
            opened.append(await Subscription.open(server.ws_url, token=token))
    except websockets.ConnectionClosed:
        return False
    finally:
        for subscription in opened:
            await subscription.close()
    return True
