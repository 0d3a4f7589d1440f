from django.core.management.base import BaseCommand

from files_app import selectors, services


class Command(BaseCommand):
    help = (
        "Recompute every owner's counters (bytes stored, files by status) from their files, "
        "and correct those that drifted. Safe while the service runs; reads every file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", action="append", help="Only this username (repeatable).")

    def handle(self, *args, user=None, **options):
        owner_ids = [selectors.user_by_username(username=name).pk for name in user or []] or None
        fixed = services.owner_usages_recount(owner_ids=owner_ids)
        self.stdout.write(
            f"{len(fixed)} counter(s) corrected." + (f" Users: {fixed}" if fixed else "")
        )
