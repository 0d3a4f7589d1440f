"""Every read, owner-scoped: a user sees only their own files, staff see all."""

import uuid
from collections.abc import Iterable
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum

from .exceptions import FileNotFound, NotAuthenticated
from .models import ApiToken, File


def require_user(user):
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    return user


def file_queryset(*, user) -> QuerySet[File]:
    require_user(user)
    files = File.objects.all()
    return files if user.is_staff else files.filter(owner=user)


def file_list(*, user, filters: dict | None = None) -> QuerySet[File]:
    files = file_queryset(user=user)
    return files.filter(**filters) if filters else files


class UploadUsage(NamedTuple):
    recent_files: int  # uploaded since the given time
    stored_bytes: int  # in all (their own files, even for staff)


def upload_usage(*, user, since) -> UploadUsage:
    """What the user's rate limit and quota count, in one query."""
    usage = File.objects.filter(owner=user).aggregate(
        recent_files=Count("pk", filter=Q(uploaded_at__gte=since)), stored_bytes=Sum("size"))
    return UploadUsage(usage["recent_files"] or 0, usage["stored_bytes"] or 0)


def parse_file_id(file_id) -> uuid.UUID:
    try:
        return file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))
    except (TypeError, ValueError, AttributeError):
        raise FileNotFound() from None


def file_get(*, user, file_id) -> File:
    try:
        return file_queryset(user=user).get(pk=parse_file_id(file_id))
    except File.DoesNotExist:
        raise FileNotFound() from None


def file_get_many(*, user, file_ids: Iterable) -> list[File]:
    """All the listed files, or FileNotFound if any is absent or not the user's."""
    wanted = {parse_file_id(file_id) for file_id in file_ids}
    found = list(file_queryset(user=user).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise FileNotFound()
    return found


def api_token_find(*, raw_token: str) -> ApiToken | None:
    """The token row for a raw bearer token, if it exists and its user is active."""
    return (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash(raw_token), user__is_active=True)
        .first()
    )


def user_by_username(*, username: str):
    return get_user_model().objects.get(username=username)
