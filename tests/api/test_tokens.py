"""API tokens: expiry (refused like an unknown token, on GraphQL, downloads and websockets),
revocation, last use, and the admin's view of them."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from files_app import services
from files_app.models import ApiToken
from tests.support.graphql import GraphQL
from tests.support.wsclient import close_code_after_init

pytestmark = pytest.mark.django_db

FILES = "{ files { totalCount } }"


def expire(raw_token: str) -> None:
    ApiToken.objects.filter(token_hash=ApiToken.hash(raw_token)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_expired_token_is_refused_like_an_unknown_one(client, user):
    file = services.file_create(owner=user, upload=SimpleUploadedFile("a.txt", b"data"))
    raw = services.api_token_create(user=user, expires_in=timedelta(hours=1))
    assert GraphQL(client, raw)(FILES)["data"]["files"]["totalCount"] == 1
    download = f"/files/{file.pk}/download"
    assert client.get(download, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200

    expire(raw)
    unknown = GraphQL(client, "not-a-token").post(json={"query": FILES})
    expired = GraphQL(client, raw).post(json={"query": FILES})
    assert expired.status_code == unknown.status_code == 401
    assert expired.json() == unknown.json()
    assert expired.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    refused = client.get(download, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert refused.status_code == 401
    assert refused.json() == client.get(download, HTTP_AUTHORIZATION="Bearer x").json()
    assert services.api_token_authenticate(raw_token=raw) is None


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_cannot_open_a_websocket(uvicorn_server, user):
    from asgiref.sync import sync_to_async

    raw = await sync_to_async(services.api_token_create)(user=user, expires_in=timedelta(days=1))
    await sync_to_async(expire)(raw)
    payload = json.dumps({"Authorization": f"Bearer {raw}"})
    assert await close_code_after_init(uvicorn_server, payload) == 4401


def test_create_api_token_takes_an_expiry(user, capsys):
    for text, lifetime in [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
    ]:
        started = timezone.now()
        call_command("create_api_token", user.username, "--name", text, "--expires-in", text)
        raw = capsys.readouterr().out.strip()
        token = ApiToken.objects.get(token_hash=ApiToken.hash(raw))
        assert started + lifetime <= token.expires_at <= timezone.now() + lifetime
        assert services.api_token_authenticate(raw_token=raw) == user
    call_command("create_api_token", user.username)
    assert ApiToken.objects.get(name="").expires_at is None
    for bad in ("30", "0d", "soon", "-1h"):
        with pytest.raises(CommandError, match="not a duration"):
            call_command("create_api_token", user.username, f"--expires-in={bad}")


def test_revoke_api_token_by_name_by_token_and_all(user, other_user, capsys):
    laptop = services.api_token_create(user=user, name="laptop")
    ci = services.api_token_create(user=user, name="ci")
    phone = services.api_token_create(user=user, name="phone")
    bobs = services.api_token_create(user=other_user, name="laptop")

    call_command("revoke_api_token", user.username, "--name", "laptop")
    assert capsys.readouterr().out == "Revoked token laptop for alice.\n"
    assert services.api_token_authenticate(raw_token=laptop) is None
    assert services.api_token_authenticate(raw_token=bobs) == other_user  # not bob's

    call_command("revoke_api_token", "--token", ci)
    assert capsys.readouterr().out == "Revoked token ci for alice.\n"
    assert services.api_token_authenticate(raw_token=ci) is None

    services.api_token_create(user=user, name="tablet")
    call_command("revoke_api_token", user.username, "--all")
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "Revoked token phone for alice.",
        "Revoked token tablet for alice.",
    ]
    assert services.api_token_authenticate(raw_token=phone) is None
    assert not user.api_tokens.exists() and other_user.api_tokens.count() == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["alice", "--name", "nope"], "'alice' has no token named 'nope'."),
        (["alice", "--all"], "'alice' has no tokens."),
        (["--token", "not-a-token"], "No such token (it may be revoked already)."),
        (["nobody", "--all"], "No user named 'nobody'."),
        (["--all"], "--name and --all need the username."),
    ],
)
def test_revoking_nothing_is_a_clear_error(user, arguments, message):
    with pytest.raises(CommandError) as error:
        call_command("revoke_api_token", *arguments)
    assert str(error.value) == message


def test_last_use_is_recorded_at_most_once_a_minute(user, django_assert_num_queries):
    raw = services.api_token_create(user=user)
    token = user.api_tokens.get()
    long_ago = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=long_ago)
    with django_assert_num_queries(2):  # the lookup, and one conditional UPDATE
        services.api_token_authenticate(raw_token=raw)
    token.refresh_from_db()
    assert token.last_used_at > long_ago
    with django_assert_num_queries(1):  # used within the minute: no write
        services.api_token_authenticate(raw_token=raw)


def test_the_admin_shows_expiry_and_last_use(admin_client, user):
    services.api_token_create(user=user, name="ci", expires_in=timedelta(days=30))
    page = admin_client.get("/admin/files_app/apitoken/")
    assert page.status_code == 200
    for column in (b"Expires at", b"Unexpired", b"Last used at", b"ci"):
        assert column in page.content
