"""The per-owner counters (`OwnerUsage`): bytes stored and files by status.

Database triggers keep them (migration 0007), in the statement that inserts, deletes or
changes a file, so no service calls anything to keep them exact. This module is for what a
trigger cannot do: put a counter right again after something outside the database's rules
moved it (a table restored from a backup, a trigger dropped by hand)."""

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from ..models import File, FileStatus, OwnerUsage

COLUMNS = {status: status.lower() for status in FileStatus.values}


def owner_usage_recount(*, owner_id) -> bool:
    """Recount one owner's files and correct their counter; True if it was wrong.

    The counter row is locked first: a transaction that changed one of the owner's files
    holds that lock from its trigger until it commits, so the count below waits for it and
    sees its rows; one that starts later waits for us, and its trigger then applies its
    change to the corrected row. Exact with writes going on."""
    with transaction.atomic():
        OwnerUsage.objects.bulk_create([OwnerUsage(owner_id=owner_id)], ignore_conflicts=True)
        usage = OwnerUsage.objects.select_for_update().get(owner_id=owner_id)
        actual = File.objects.filter(owner_id=owner_id).aggregate(
            bytes=Coalesce(Sum("size"), 0),
            **{column: Count("pk", filter=Q(status=s)) for s, column in COLUMNS.items()},
        )
        if all(getattr(usage, field) == value for field, value in actual.items()):
            return False
        OwnerUsage.objects.filter(owner_id=owner_id).update(**actual)
    return True


def owner_usages_recount(*, owner_ids=None) -> list:
    """Recount the listed owners (None: everyone with a file or a counter); returns those
    whose counter was wrong. O(files): a repair, never on a request's path."""
    if owner_ids is None:
        with_files = File.objects.order_by().values_list("owner_id", flat=True).distinct()
        counted = OwnerUsage.objects.values_list("owner_id", flat=True)
        owner_ids = sorted(set(with_files) | set(counted))
    return [owner_id for owner_id in owner_ids if owner_usage_recount(owner_id=owner_id)]
