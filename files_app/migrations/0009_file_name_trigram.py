"""A trigram index for `nameContains` on PostgreSQL (pg_trgm, GIN). Django writes
`name__icontains` as `UPPER("name"::text) LIKE UPPER(%s)`, so the index is on that very
expression: the planner uses it for the LIKE. SQLite has no such index and keeps the scan;
the operations do nothing there (CreateExtension checks the vendor itself)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "file_name_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {INDEX} ON files_app_file '
            f'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("files_app", "0008_owner_usage")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
