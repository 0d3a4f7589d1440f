"""Local development only (`make run`): a `demo` user to log in with, created once.

Its password and an API token are kept in `var/demo-credentials.txt` (readable by you only)
so every `make run` can print them again; production never runs this command.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from files_app import services

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Create the local demo user once and print how to log in."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo user is for local development (DEBUG=1) only.")
        credentials = settings.VAR_DIR / "demo-credentials.txt"
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USERNAME).exists() or not credentials.exists():
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(username=DEMO_USERNAME)
            user.set_password(password)
            user.is_staff = user.is_superuser = True  # so admin works out of the box locally
            user.save()
            token = services.api_token_create(user=user, name="make run")
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.touch(mode=0o600)
            credentials.write_text(
                f"username={DEMO_USERNAME}\npassword={password}\ntoken={token}\n"
            )
        values = dict(line.split("=", 1) for line in credentials.read_text().split())
        address = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Log in at http://{address}/accounts/login/",
                    f"    username: {values['username']}  (a superuser: sees every file)",
                    f"    password: {values['password']}",
                    f"  API token:  {values['token']}",
                    f"  (saved in {credentials})",
                    "",
                ]
            )
        )
