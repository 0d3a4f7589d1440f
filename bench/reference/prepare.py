"""Migrate the reference database and leave exactly `--rows` processed rows in it.

DJANGO_SETTINGS_MODULE=bench.reference.settings python -m bench.reference.prepare --rows 1000
"""

import argparse
import os

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reference.settings")
    django.setup()
    from django.core.management import call_command

    from bench.reference.models import StoredFile

    call_command("migrate", "--no-input", verbosity=0)
    StoredFile.objects.all().delete()
    StoredFile.objects.bulk_create(
        StoredFile(
            name=f"report-{i:06d}.csv",
            file=f"uploads/report-{i:06d}.csv",
            size=1000 + i,
            processed=True,
        )
        for i in range(args.rows)
    )


if __name__ == "__main__":
    main()
