from django.core.management.base import BaseCommand, CommandError

from files_app import selectors, services


class Command(BaseCommand):
    help = (
        "Revoke API tokens: a user's token by name, all of a user's tokens (--all), or "
        "one token given in clear (--token)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", help="The user whose tokens to revoke.")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--name", help="Revoke the user's token(s) with this name.")
        which.add_argument("--all", action="store_true", help="Revoke all the user's tokens.")
        which.add_argument("--token", help="Revoke this token, whoever it belongs to.")

    def handle(self, *args, username, name, all, token, **options):
        if token is not None:
            if username:
                raise CommandError("Give either a username or --token, not both.")
            revoked = services.api_token_revoke(raw_token=token.strip())
            nothing = "No such token (it may be revoked already)."
        else:
            if not username:
                raise CommandError("--name and --all need the username.")
            try:
                user = selectors.user_by_username(username=username)
            except Exception:
                raise CommandError(f"No user named {username!r}.") from None
            revoked = services.api_token_revoke(user=user, name=name)
            nothing = (
                f"{username!r} has no token named {name!r}."
                if name is not None
                else f"{username!r} has no tokens."
            )
        if not revoked:
            raise CommandError(nothing)
        for description in revoked:
            self.stdout.write(f"Revoked {description}.")
