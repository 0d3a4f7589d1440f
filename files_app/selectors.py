"""Every read, owner-scoped: a user sees only their own files; staff see everyone's with the
`files_app.view_file` permission."""

import datetime
import functools
import uuid
from collections.abc import Iterable
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .exceptions import FileNotFound, NotAuthenticated, NotPermitted
from .models import (
    ApiToken,
    File,
    FileStatus,
    ReprocessRequest,
    ResumableUpload,
    UploadReservation,
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


def upload_usage(*, user, since, excluding=()) -> UploadUsage:
    """What the user's rate limit and quota count: a reprocess costs a worker as much as an
    upload, so both count against the rate (reprocesses in a subquery); the bytes of the
    uploads in flight (but the reservations `excluding`) count against the quota."""
    reprocessed = (
        ReprocessRequest.objects.filter(user=user, requested_at__gte=since)
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    usage = File.objects.filter(owner=user).aggregate(
        recent_files=Count("pk", filter=Q(uploaded_at__gte=since))
        + Coalesce(Subquery(reprocessed), 0),
        stored_bytes=Sum("size"),
    )
    reserved = (
        UploadReservation.objects.filter(owner=user, expires_at__gt=Now())
        .exclude(pk__in=excluding)
        .aggregate(total=Sum("bytes"), count=Count("pk"))
    )
    return UploadUsage(
        usage["recent_files"] or 0,
        usage["stored_bytes"] or 0,
        reserved["total"] or 0,
        reserved["count"],
    )


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
def token_user_sql() -> str:
    """One statement, written once: the ORM would compile the same join on every API
    request, a sixth of the web process's CPU under small uploads (profiled)."""
    user, token = get_user_model()._meta, ApiToken._meta
    return (
        f'SELECT u.*, t."id" AS api_token_id, t."last_used_at" AS api_token_last_used_at '
        f'FROM "{user.db_table}" u JOIN "{token.db_table}" t '
        f'ON t."user_id" = u."{user.pk.column}" '
        f'WHERE t."token_hash" = %s AND u."is_active" '
        f'AND (t."expires_at" IS NULL OR t."expires_at" > %s)'
    )


def api_token_user(*, raw_token: str):
    """The active user a raw bearer token belongs to, or None (also once the token has
    expired: an expired token is refused exactly like an unknown one); the user carries the
    token's `api_token_id` and `api_token_last_used_at`."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    found = list(get_user_model().objects.raw(token_user_sql(), [ApiToken.hash(raw_token), now]))
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
    valid = (
        ApiToken.objects.select_related("user")
        .filter(token_hash__in=hashes, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    )
    return {hashes[token.token_hash]: token.user for token in valid}


def api_tokens_matching(*, raw_token: str) -> QuerySet[ApiToken]:
    """The token (at most one) whose clear text is `raw_token`, whoever it belongs to."""
    return ApiToken.objects.filter(token_hash=ApiToken.hash(raw_token))


class Workload(NamedTuple):
    by_status: dict[str, int]
    oldest_pending: datetime.datetime | None  # when the longest-waiting PENDING file queued


def file_workload() -> Workload:
    """Everyone's files counted by status, and the oldest PENDING one: figures for the
    operators' metrics, never shown to a user (hence not owner-scoped). Two small queries,
    the second on the (status, updated_at) index."""
    counts = File.objects.order_by().values("status").annotate(count=Count("pk"))
    oldest = (
        File.objects.filter(status=FileStatus.PENDING)
        .order_by("updated_at")
        .values_list("updated_at", flat=True)
        .first()
    )
    return Workload({row["status"]: row["count"] for row in counts}, oldest)
