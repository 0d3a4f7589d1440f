"""The suite's users: one password for all, the rights that make a user staff, and a
browser's login."""

import httpx
from django.contrib.auth.hashers import PBKDF2PasswordHasher

PASSWORD = "correct-horse-battery-staple"


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2-SHA256 with one iteration (tests/settings.py): the suite makes a user for
    nearly every test, and a full-strength hash costs ~0.5 s of CPU each. The algorithm's
    name is Django's own, so the servers the tests start (on the project's settings) check
    such a password as they would any other; one that logs a user in re-hashes it at full
    strength, as Django does on login when the iterations changed."""

    iterations = 1


def grant_every_file_right(user) -> None:
    """What makes staff see, delete and reprocess everyone's files (File.Meta.permissions)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="files_app", codename__endswith="_file")
    )


async def login_cookie(server, user) -> str:
    """A session cookie, from logging in through the form as a browser does."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/accounts/login/")
        response = await client.post(
            "/accounts/login/",
            data={
                "username": user.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": page.cookies["csrftoken"],
            },
            headers={"Referer": f"{server.url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text
        return f"sessionid={client.cookies['sessionid']}"
