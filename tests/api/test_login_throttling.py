"""Login throttling (django-axes), through real HTTP requests to both login pages: failures
are counted per client address and per username, a locked-out login is a 429 page, and
neither sessions nor bearer tokens on the GraphQL endpoint are touched by a lockout."""

import pytest
from django.conf import settings

from tests.support.graphql import GraphQL
from tests.support.users import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]
FILES = "{ files { totalCount } }"


def log_in(client, page, username, password, address):
    return client.post(
        page, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address
    )


@pytest.fixture(autouse=True)
def staff(user, other_user):
    """Both may log in to the admin too, so a refused login there is the throttle's doing."""
    for account in (user, other_user):
        account.is_staff = True
        account.save()


def fail_until_the_limit(client, page, usernames, addresses):
    for username, address in zip(usernames, addresses, strict=True):
        response = log_in(client, page, username, "wrong password", address)
        assert response.status_code in (200, 429), response.status_code


def assert_locked_out(response):
    assert response.status_code == 429, response.status_code
    assert b"Too many failed logins" in response.content
    assert int(response["Retry-After"]) == settings.LOGIN_LOCKOUT_MINUTES * 60
    assert "_auth_user_id" not in response.wsgi_request.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_failures_for_one_username_lock_it_out_from_any_address(client, user, other_user, page):
    limit = settings.AXES_FAILURE_LIMIT
    addresses = [f"10.0.0.{i}" for i in range(limit)]  # a different address each time
    fail_until_the_limit(client, page, [user.username] * limit, addresses)
    assert_locked_out(log_in(client, page, user.username, PASSWORD, "10.0.1.1"))
    # Another user logs in from the same addresses: only the username is locked.
    assert log_in(client, page, other_user.username, PASSWORD, "10.0.0.1").status_code == 302


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_failures_from_one_address_lock_it_out_for_any_username(client, user, other_user, page):
    limit = settings.AXES_FAILURE_LIMIT
    usernames = [f"guess-{i}" for i in range(limit)]  # a different username each time
    fail_until_the_limit(client, page, usernames, ["10.0.0.9"] * limit)
    assert_locked_out(log_in(client, page, user.username, PASSWORD, "10.0.0.9"))
    # The same user from another address: only the address is locked.
    assert log_in(client, page, user.username, PASSWORD, "10.0.2.2").status_code == 302


def test_a_lockout_leaves_sessions_and_tokens_on_the_api_alone(client, user, token):
    limit = settings.AXES_FAILURE_LIMIT
    fail_until_the_limit(client, "/accounts/login/", [user.username] * limit, ["127.0.0.1"] * limit)
    assert_locked_out(log_in(client, "/accounts/login/", user.username, PASSWORD, "127.0.0.1"))
    assert GraphQL(client, token)(FILES) == {"data": {"files": {"totalCount": 0}}}
    client.force_login(user)  # a session from before the lockout
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    csrf = {"X-CSRFToken": page.cookies["csrftoken"].value}
    session = GraphQL(client).post(json={"query": FILES}, headers=csrf)
    assert session.json() == {"data": {"files": {"totalCount": 0}}}


def test_logins_below_the_limit_work(client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert (
            log_in(client, "/accounts/login/", user.username, "nope", "10.0.3.3").status_code == 200
        )
    assert (
        log_in(client, "/accounts/login/", user.username, PASSWORD, "10.0.3.3").status_code == 302
    )


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_page_under_asgi(async_client, user):
    """Django's ASGI handler runs axes' middleware on its async path: still the 429 page."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        await async_client.post(
            "/accounts/login/", {"username": user.username, "password": "wrong"}
        )
    response = await async_client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert response["Retry-After"] == str(settings.LOGIN_LOCKOUT_MINUTES * 60)
