from django.core.management.base import BaseCommand

from files_app.services.audit import storage_audit


class Command(BaseCommand):
    help = (
        "List stored bytes that no file refers to, and files whose bytes are missing. "
        "With --fix, delete the former and mark the latter FAILED."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, fix, **options):
        report = storage_audit(fix=fix)
        verb = "removed" if fix else "found"
        for name in report.orphans:
            self.stdout.write(f"orphan bytes {verb}: {name}")
        for file_id in report.missing:
            self.stdout.write(f"missing bytes{' (marked FAILED)' if fix else ''}: file {file_id}")
        self.stdout.write(f"{len(report.orphans)} orphan(s), {len(report.missing)} missing.")
