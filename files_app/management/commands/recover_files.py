from django.core.management.base import BaseCommand

from files_app import services


class Command(BaseCommand):
    help = (
        "Queue again files PROCESSING whose lease lapsed and files PENDING for "
        "FILE_RECOVERY_AFTER seconds; fail those that already had FILE_MAX_ATTEMPTS runs; "
        "delete direct uploads never completed. "
        "Celery beat runs this too."
    )

    def handle(self, *args, **options):
        counts = services.files_recover()
        self.stdout.write(
            f"{counts['requeued']} re-queued, {counts['failed']} failed, "
            f"{counts['expired']} expired."
        )
