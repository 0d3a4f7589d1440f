"""Reads: owner-scoped through `files_app.selectors`."""

import inspect
from collections.abc import Iterable

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay
from strawberry.relay.utils import SliceMetadata
from strawberry_django.auth.utils import get_current_user
from strawberry_django.relay import DjangoListConnection
from strawberry_django.resolvers import django_resolver

from files_app import selectors
from files_app.exceptions import BadUserInput, FileNotFound
from files_app.models import File, FileStatus

from .ids import decode_file_id
from .types import FileFilter, FileOrder, FileType
from .webhooks import WebhookQuery

# Filters a count may leave to the counters (`selectors.file_count`): a status is a column
# there; anything else (a name, a time, AND/OR/NOT) has to visit rows.
COUNTED_FILTERS = {"status", "statusIn"}


def counted_statuses(filters: dict) -> set[str]:
    """The statuses a filter by `status` and `statusIn` (both: either's files that are in
    the other) lets through."""
    statuses = set(FileStatus.values)
    if "status" in filters:
        statuses &= {enum_value(filters["status"])}
    if "statusIn" in filters:
        statuses &= {enum_value(status) for status in filters["statusIn"]}
    return statuses


def then(value, function):
    """`function(value)`, awaited where either is awaitable: one resolver serves HTTP (sync)
    and the websocket (async, where a query runs in a thread: `django_resolver`)."""
    if inspect.isawaitable(value):

        async def awaited():
            result = function(await value)
            return (await result) if inspect.isawaitable(result) else result

        return awaited()
    return function(value)


def enum_value(status) -> str:
    """A status as the selection's arguments give it: the enum's name, or the enum."""
    return getattr(status, "value", status)


@strawberry.type(name="FileConnection", description="A connection to a list of items.")
class FileConnection(DjangoListConnection[FileType]):
    """Checks the page's arguments before Strawberry does: it raises plain ValueErrors and
    TypeErrors for a malformed cursor or an out-of-range `first`/`last` (found by the
    schemathesis run in tests/api/test_fuzz_schema.py), which are the client's mistake, not a bug
    to mask.

    `totalCount` is never a COUNT over every row the page could reach (strawberry-django's
    default, a window function over the whole selection, 364 ms at a million files): an
    unfiltered count, or one by status, reads the owners' counters; any other is capped."""

    filters: strawberry.Private[dict | None] = None
    counted: strawberry.Private[selectors.FileCount | None] = None

    @classmethod
    def resolve_connection(
        cls, nodes, *, info, before=None, after=None, first=None, last=None, **kwargs
    ):
        try:
            SliceMetadata.from_arguments(info, before=before, after=after, first=first, last=last)
        except (ValueError, TypeError) as error:
            raise BadUserInput(f"Bad pagination argument: {error}") from None
        filters = info.selected_fields[0].arguments.get("filters")
        filters = {key: value for key, value in (filters or {}).items() if value is not None}
        narrow = not set(filters) <= COUNTED_FILTERS and isinstance(nodes, QuerySet)
        narrowed = django_resolver(selectors.file_list_narrowed) if narrow else None
        if last is not None and before is None:
            # Counted once to find the end (strawberry-django's way), then paginated by the
            # branch below, which it calls with that end as `before`.
            def remember_filters(connection):
                if connection.filters is not None:
                    return connection
                connection.filters = filters
                if narrowed is None:
                    return connection
                return then(narrowed(files=nodes), lambda found: remember(connection, found[1]))

            connection = super().resolve_connection(
                nodes, info=info, before=before, after=after, first=first, last=last, **kwargs
            )
            return then(connection, remember_filters)

        def paginate(found):
            # The plain relay slicing, without the total-count window strawberry-django adds.
            page_nodes, counted = found
            connection = relay.ListConnection.resolve_connection.__func__(
                cls,
                page_nodes,
                info=info,
                before=before,
                after=after,
                first=first,
                last=last,
                **kwargs,
            )
            return then(connection, lambda done: remember(done, counted, page_nodes, filters))

        return then(narrowed(files=nodes) if narrowed else (nodes, None), paginate)

    def count(self, info: strawberry.Info):
        """Only a count the counters can answer is left for here: any other was taken on
        the way (`file_list_narrowed`). A `FileCount`, or one to await on the websocket."""
        if self.counted is not None:
            return self.counted
        counted = django_resolver(selectors.file_count)(
            user=get_current_user(info), statuses=counted_statuses(self.filters or {})
        )
        return then(counted, lambda found: remember(self, found).counted)

    @strawberry.field(
        description=(
            "How many files match. Exact without filters or filtered by status only; with "
            f"any other filter the count stops at {selectors.COUNT_CAP} "
            "(`totalCountIsCapped` is then true: at least that many)."
        )
    )
    def total_count(self, info: strawberry.Info) -> int | None:
        return then(self.count(info), lambda counted: counted.count)

    @strawberry.field(
        description=(
            "True when `totalCount` stopped counting: at least that many files match, maybe "
            "more (show it as 1,000+)."
        )
    )
    def total_count_is_capped(self, info: strawberry.Info) -> bool:
        return then(self.count(info), lambda counted: counted.capped)


def remember(connection, counted, nodes=None, filters=None):
    """A connection that keeps what its count needs (`counted`, or the filters to count by)."""
    connection.counted = counted
    if nodes is not None:
        connection.nodes, connection.filters = nodes, filters
    return connection


@strawberry.type
class Query(WebhookQuery):
    @strawberry_django.connection(
        FileConnection,
        filters=FileFilter,
        order=FileOrder,
        description=(
            "Your files (staff with the view_file permission: everyone's), newest "
            "first unless ordered."
        ),
    )
    def files(self, info: strawberry.Info) -> Iterable[File]:
        return selectors.file_list(user=get_current_user(info))

    @strawberry_django.field(description="A file by id; null when absent or not yours.")
    def file(self, info: strawberry.Info, id: strawberry.ID) -> FileType | None:
        try:
            return selectors.file_get(user=get_current_user(info), file_id=decode_file_id(id))
        except FileNotFound:
            return None
