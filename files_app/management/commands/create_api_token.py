from django.core.management.base import BaseCommand, CommandError

from files_app import selectors, services


class Command(BaseCommand):
    help = "Create an API token for a user and print it (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by.")

    def handle(self, *args, username, name, **options):
        try:
            user = selectors.user_by_username(username=username)
        except Exception:
            raise CommandError(f"No user named {username!r}.") from None
        self.stdout.write(services.api_token_create(user=user, name=name))
