"""Every read, owner-scoped: a user sees only their own files; staff see everyone's with the
`files_app.view_file` permission."""

import datetime
import functools
import operator
import uuid
from collections.abc import Collection, Iterable
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BigIntegerField, F, Func, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Now
from django.db.models.sql.where import WhereNode
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .exceptions import FileNotFound, NotAuthenticated, NotPermitted, WebhookNotFound
from .models import (
    ApiToken,
    File,
    FileStatus,
    OwnerUsage,
    ReprocessRequest,
    ResumableUpload,
    UploadReservation,
    Webhook,
    WebhookDelivery,
)


def require_user(user):
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    return user


def holds(user, permission: str) -> bool:
    """Whether `user` holds a right over everyone's files (`view_file`, `delete_file`,
    `reprocess_file`; see File.Meta). Rights belong to staff accounts, as in the admin: a
    user who is not staff holds none, which also spares every ordinary request the
    permission queries (Django loads a user's permissions with two of them)."""
    return user.is_staff and user.has_perm(f"files_app.{permission}")


def sees_all_files(user) -> bool:
    """Whether `user` sees everyone's files (queries and live updates alike)."""
    return holds(user, "view_file")


def file_queryset(*, user) -> QuerySet[File]:
    require_user(user)
    files = File.objects.all()
    return files if sees_all_files(user) else files.filter(owner=user)


def file_list(*, user, filters: dict | None = None) -> QuerySet[File]:
    files = file_queryset(user=user)
    return files.filter(**filters) if filters else files


class UploadUsage(NamedTuple):
    recent_files: int  # uploaded or reprocessed since the given time
    stored_bytes: int  # in all (their own files, even for staff)
    reserved_bytes: int  # by their uploads in flight (services/reservations.py)
    uploads_in_flight: int  # how many of those


def owner_usage(*, owner_id) -> OwnerUsage:
    """The owner's counters (one row by primary key); zeros for an owner who never had a file."""
    return OwnerUsage.objects.filter(owner_id=owner_id).first() or OwnerUsage(owner_id=owner_id)


def figure(rows: QuerySet, function: str, field: str = "pk") -> Coalesce:
    """One figure of `rows` (COUNT or SUM of a field, no GROUP BY) as a subquery: 0 when
    there are none. A Func, not an aggregate, so the outer query is not grouped by it."""
    total = Func(F(field), function=function, output_field=BigIntegerField())
    return Coalesce(Subquery(rows.order_by().annotate(figure=total).values("figure")), 0)


def upload_usage(*, user, since, excluding=()) -> UploadUsage:
    """What the user's rate limit and quota count, in one query, each figure read where it
    costs least whatever the number of files: the stored bytes from the owner's counter
    (`OwnerUsage`, by primary key); the recent uploads on the (owner, uploaded_at) index and
    the reprocesses beside them (a reprocess costs a worker as much as an upload); the bytes
    of the uploads in flight (but the reservations `excluding`: the caller's own)."""
    reservations = UploadReservation.objects.filter(owner=user, expires_at__gt=Now()).exclude(
        pk__in=excluding
    )
    usage = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            recent_uploads=figure(File.objects.filter(owner=user, uploaded_at__gte=since), "COUNT"),
            recent_reprocesses=figure(
                ReprocessRequest.objects.filter(user=user, requested_at__gte=since), "COUNT"
            ),
            stored_bytes=figure(OwnerUsage.objects.filter(owner=user), "SUM", "bytes"),
            reserved_bytes=figure(reservations, "SUM", "bytes"),
            uploads_in_flight=figure(reservations, "COUNT"),
        )
        .values(
            "recent_uploads",
            "recent_reprocesses",
            "stored_bytes",
            "reserved_bytes",
            "uploads_in_flight",
        )
        .get()
    )
    return UploadUsage(
        usage["recent_uploads"] + usage["recent_reprocesses"],
        usage["stored_bytes"],
        usage["reserved_bytes"],
        usage["uploads_in_flight"],
    )


# Past this, a count that has to visit the rows (filtered by name or time) stops: the answer
# says "at least this many", as GitHub's "1,000+". An unfiltered count, or one by status, is
# read from the counters and always exact.
COUNT_CAP = 1000


class FileCount(NamedTuple):
    count: int
    capped: bool  # there are at least `count` (COUNT_CAP), maybe more


def file_count(*, user, statuses: Iterable[str] | None = None) -> FileCount:
    """How many files the user sees (in `statuses`; None: all), from the counters: one row
    for an owner, the sum of every owner's for staff who see everyone's files."""
    require_user(user)
    columns = [status.lower() for status in (FileStatus.values if statuses is None else statuses)]
    if not columns:
        return FileCount(0, False)
    rows = OwnerUsage.objects.all()
    if not sees_all_files(user):
        rows = rows.filter(owner=user)
    total = rows.aggregate(total=Sum(functools.reduce(operator.add, map(F, columns))))["total"]
    return FileCount(total or 0, False)


def file_list_narrowed(*, files: QuerySet[File]) -> tuple[QuerySet[File], FileCount]:
    """A filtered page's rows found once, then paginated among themselves, and counted on
    the way (capped). The ids of at most COUNT_CAP + 1 matches are fetched with no order,
    which PostgreSQL answers from the best index for the filter (the trigram index for a
    name); when they are all there, the page is ordered among those ids alone. Left to one
    ordered query, the planner guesses a name matches 1 % of the rows and walks the owner's
    files newest first, filtering: a name matching 100 of a million files read all million
    (500 ms). Past the cap the matches are common enough for that walk to stop early.

    The page keeps everything of `files` (its order, its columns) but its filters, which
    found those ids already: asked again, they would send PostgreSQL through the trigram
    index a second time rather than to the rows by primary key."""
    ids = list(files.order_by().values_list("pk", flat=True)[: COUNT_CAP + 1])
    if len(ids) > COUNT_CAP:
        return files, FileCount(COUNT_CAP, True)
    page = files.all()
    page.query.where = WhereNode()
    return page.filter(pk__in=ids), FileCount(len(ids), False)


def parse_file_id(file_id) -> uuid.UUID:
    try:
        return file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))
    except (TypeError, ValueError, AttributeError):
        raise FileNotFound() from None


def file_get(*, user, file_id, to: str | None = None) -> File:
    """The file, if `user` may see it (else FileNotFound: never reveal it exists). With `to`
    (`delete`, `reprocess`), someone else's file also needs that right (else NotPermitted);
    owners may do anything to their own."""
    try:
        file = file_queryset(user=user).get(pk=parse_file_id(file_id))
    except File.DoesNotExist:
        raise FileNotFound() from None
    if to is not None and file.owner_id != user.pk and not holds(user, f"{to}_file"):
        raise NotPermitted(f"You may see this file but not {to} it: it is not yours.")
    return file


def resumable_upload_get(*, user, file_id) -> ResumableUpload:
    """The user's own tus upload, with its File: someone else's is FileNotFound, even for
    staff (an upload in progress is its sender's alone)."""
    try:
        return ResumableUpload.objects.select_related("file").get(
            file__owner=user, pk=parse_file_id(file_id)
        )
    except ResumableUpload.DoesNotExist:
        raise FileNotFound() from None


def file_get_many(*, user, file_ids: Iterable) -> list[File]:
    """All the listed files, or FileNotFound if any is absent or not the user's."""
    wanted = {parse_file_id(file_id) for file_id in file_ids}
    found = list(file_queryset(user=user).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise FileNotFound()
    return found


@functools.cache
def token_users_sql() -> str:
    """The one statement both token selectors run, written once: the ORM would compile the
    same join on every API request, a sixth of the web process's CPU under small uploads
    (profiled). Its WHERE is the one place a token's validity is written: its user active,
    and not expired (a revoked token is deleted). Followed by the hashes looked for."""
    user, token = get_user_model()._meta, ApiToken._meta
    return (
        f'SELECT u.*, t."id" AS api_token_id, t."token_hash" AS api_token_hash, '
        f't."last_used_at" AS api_token_last_used_at '
        f'FROM "{user.db_table}" u JOIN "{token.db_table}" t '
        f'ON t."user_id" = u."{user.pk.column}" '
        f'WHERE u."is_active" AND (t."expires_at" IS NULL OR t."expires_at" > %s) '
        f'AND t."token_hash" IN '
    )


def valid_token_users(token_hashes: Collection[str]) -> list:
    """The user of each valid token among `token_hashes`, carrying the token's
    `api_token_id`, `api_token_hash` and `api_token_last_used_at`."""
    if not token_hashes:
        return []
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    hashes = ", ".join(["%s"] * len(token_hashes))
    query = f"{token_users_sql()}({hashes})"
    return list(get_user_model().objects.raw(query, [now, *token_hashes]))


def api_token_user(*, raw_token: str):
    """The active user a raw bearer token belongs to, or None (also once the token has
    expired: an expired token is refused exactly like an unknown one); the user carries the
    token's `api_token_id` and `api_token_last_used_at`."""
    found = valid_token_users([ApiToken.hash(raw_token)])
    if not found:
        return None
    user = found[0]
    last_used = user.api_token_last_used_at
    if isinstance(last_used, str):
        last_used = parse_datetime(last_used)
    if last_used is not None and timezone.is_naive(last_used):  # SQLite: naive, in UTC
        last_used = timezone.make_aware(last_used, datetime.UTC)
    user.api_token_last_used_at = last_used
    return user


def user_by_username(*, username: str):
    return get_user_model().objects.get(username=username)


def api_tokens_of(*, user, name: str | None = None) -> QuerySet[ApiToken]:
    """A user's tokens, all of them or those with this name."""
    tokens = ApiToken.objects.filter(user=user)
    return tokens if name is None else tokens.filter(name=name)


def api_token_users(*, raw_tokens: Iterable[str]) -> dict[str, object]:
    """Each raw token that is still valid, with its active user (the same rule as
    `api_token_user`), in one query: every open websocket of a web process is checked again
    at once (schema/live/revalidation.py)."""
    hashes = {ApiToken.hash(raw_token): raw_token for raw_token in raw_tokens}
    return {hashes[user.api_token_hash]: user for user in valid_token_users(list(hashes))}


def api_tokens_matching(*, raw_token: str) -> QuerySet[ApiToken]:
    """The token (at most one) whose clear text is `raw_token`, whoever it belongs to."""
    return ApiToken.objects.filter(token_hash=ApiToken.hash(raw_token))


class Workload(NamedTuple):
    by_status: dict[str, int]
    oldest_pending: datetime.datetime | None  # when the longest-waiting PENDING file queued


def file_workload() -> Workload:
    """Everyone's files counted by status, and the oldest PENDING one: figures for the
    operators' metrics, never shown to a user (hence not owner-scoped). Two small queries:
    the owners' counters summed (one row per owner, not per file), and the oldest on the
    (status, updated_at) index."""
    counts = OwnerUsage.objects.aggregate(
        **{status: Sum(status.lower()) for status in FileStatus.values}
    )
    oldest = (
        File.objects.filter(status=FileStatus.PENDING)
        .order_by("updated_at")
        .values_list("updated_at", flat=True)
        .first()
    )
    return Workload({status: count or 0 for status, count in counts.items()}, oldest)


# --- webhooks: a user's own, never anyone else's (staff included) ---------------------------


def webhook_list(*, user) -> QuerySet[Webhook]:
    """The caller's webhooks, each with its latest delivery (`last_delivery`, or None)."""
    require_user(user)
    latest = WebhookDelivery.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Webhook.objects.filter(owner=user)
        .annotate(last_delivery_id=Subquery(latest.values("pk")[:1]))
        .order_by("created_at", "id")
    )


def webhook_get(*, user, webhook_id) -> Webhook:
    require_user(user)
    try:
        return Webhook.objects.get(owner=user, pk=webhook_id)
    except (Webhook.DoesNotExist, ValueError, TypeError, ValidationError):
        raise WebhookNotFound() from None


def webhook_last_deliveries(*, webhooks: Iterable[Webhook]) -> dict:
    """The deliveries `webhook_list` found latest, by webhook id: one query for a list."""
    wanted = {hook.last_delivery_id: hook.pk for hook in webhooks if hook.last_delivery_id}
    return {wanted[d.pk]: d for d in WebhookDelivery.objects.filter(pk__in=wanted)}


def webhooks_listening(*, owner_id, event: str) -> list[Webhook]:
    """The webhooks of `owner_id` subscribed to `event`: for the worker announcing a file's
    event, which is the owner's alone (a user has WEBHOOK_MAX_PER_USER at most)."""
    return [hook for hook in Webhook.objects.filter(owner_id=owner_id) if event in hook.events]


def webhook_count(*, user) -> int:
    return Webhook.objects.filter(owner=user).count()
