"""Reads: owner-scoped through `files_app.selectors`."""

from collections.abc import Iterable

import strawberry
import strawberry_django
from strawberry.relay.utils import SliceMetadata
from strawberry_django.auth.utils import get_current_user
from strawberry_django.relay import DjangoListConnection

from files_app import selectors
from files_app.exceptions import BadUserInput, FileNotFound
from files_app.models import File

from .ids import decode_file_id
from .types import FileFilter, FileOrder, FileType
from .webhooks import WebhookQuery


@strawberry.type(name="FileConnection", description="A connection to a list of items.")
class FileConnection(DjangoListConnection[FileType]):
    """Checks the page's arguments before Strawberry does: it raises plain ValueErrors and
    TypeErrors for a malformed cursor or an out-of-range `first`/`last` (found by the
    schemathesis run in tests/test_fuzz_schema.py), which are the client's mistake, not a bug
    to mask."""

    @classmethod
    def resolve_connection(
        cls, nodes, *, info, before=None, after=None, first=None, last=None, **kwargs
    ):
        try:
            SliceMetadata.from_arguments(info, before=before, after=after, first=first, last=last)
        except (ValueError, TypeError) as error:
            raise BadUserInput(f"Bad pagination argument: {error}") from None
        return super().resolve_connection(
            nodes, info=info, before=before, after=after, first=first, last=last, **kwargs
        )


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
