import os

from django.core.management.base import BaseCommand, CommandError

from files_app import services
from files_app.exceptions import FileServiceError

PASSWORD_VARIABLE = "NEW_USER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an ordinary user (sees only their own files) and print their password. "
        f"The password is generated unless {PASSWORD_VARIABLE} is set (never on the command "
        "line, where `ps` would show it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="May log in to the admin.")

    def handle(self, *args, username, staff, **options):
        try:
            user, password = services.user_create(
                username=username, password=os.environ.get(PASSWORD_VARIABLE), is_staff=staff
            )
        except FileServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Created {user.get_username()!r}; password: {password}")
