"""OwnerUsage, kept by triggers on files_app_file (files_app/usage_triggers.py, PostgreSQL
and SQLite alike), and filled from the rows there. The triggers are created before the fill,
in the same transaction: on PostgreSQL, CREATE TRIGGER locks the file table against writes
until the migration commits, so no write falls between the count and the first trigger."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STATUSES = ("AWAITING_UPLOAD", "PENDING", "PROCESSING", "DONE", "FAILED")
FILL = (
    "INSERT INTO files_app_ownerusage (owner_id, bytes, "
    + ", ".join(status.lower() for status in STATUSES)
    + ") SELECT owner_id, SUM(size), "
    + ", ".join(f"SUM(CASE WHEN status = '{s}' THEN 1 ELSE 0 END)" for s in STATUSES)
    + " FROM files_app_file GROUP BY owner_id"
)


def create_triggers(apps, schema_editor):
    from files_app import usage_triggers

    usage_triggers.install(schema_editor.connection)
    schema_editor.execute(FILL)


def drop_triggers(apps, schema_editor):
    from files_app import usage_triggers

    vendor = schema_editor.connection.vendor
    for statement in usage_triggers.drop(vendor):
        schema_editor.execute(statement)
    if vendor == "postgresql":
        for event in ("inserted", "deleted", "changed"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS files_app_file_usage_{event}()")


class Migration(migrations.Migration):
    dependencies = [
        ("files_app", "0007_file_kind_custom"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OwnerUsage",
            fields=[
                (
                    "owner",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="usage",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("bytes", models.BigIntegerField(default=0)),
                ("awaiting_upload", models.BigIntegerField(default=0)),
                ("pending", models.BigIntegerField(default=0)),
                ("processing", models.BigIntegerField(default=0)),
                ("done", models.BigIntegerField(default=0)),
                ("failed", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
