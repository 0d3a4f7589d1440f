from django.apps import AppConfig
from django.db.models.signals import post_migrate


def install_usage_triggers(sender, using, **kwargs) -> None:
    """After every `migrate`: the counters' triggers as files_app/usage_triggers.py writes
    them (once the table exists: migration 0007 installs them first)."""
    from django.db import connections

    from . import usage_triggers

    connection = connections[using]
    if "files_app_ownerusage" in connection.introspection.table_names():
        usage_triggers.install(connection, unless_current=True)


class FilesAppConfig(AppConfig):
    name = "files_app"
    verbose_name = "Files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers

        post_migrate.connect(install_usage_triggers, sender=self, dispatch_uid="usage_triggers")
