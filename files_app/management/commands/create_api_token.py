import argparse
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from files_app import selectors, services
from files_app.numbers import parse_digits

DURATION = re.compile(r"\s*(\S+?)\s*([mhdw])\s*")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(text: str) -> timedelta:
    """`90m`, `12h`, `30d` or `2w` as a timedelta."""
    match = DURATION.fullmatch(text.lower())
    count = parse_digits(match[1]) if match else None
    try:
        if count:
            return timedelta(**{UNITS[match[2]]: count})
    except OverflowError:
        pass
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a duration: a positive number and m, h, d or w (90m, 12h, 30d)."
    )


class Command(BaseCommand):
    help = "Create an API token for a user and print it (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by.")
        parser.add_argument(
            "--expires-in",
            type=duration,
            default=None,
            help="Refuse the token after this long: 90m, 12h, 30d, 2w. "
            "Default: never (until revoked).",
        )

    def handle(self, *args, username, name, expires_in, **options):
        if not username.strip():
            raise CommandError("Name the user: manage.py create_api_token <username>.")
        try:
            user = selectors.user_by_username(username=username)
        except Exception:
            raise CommandError(f"No user named {username!r}.") from None
        self.stdout.write(services.api_token_create(user=user, name=name, expires_in=expires_in))
