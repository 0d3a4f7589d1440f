"""Reads: owner-scoped through `files_app.selectors`."""

from collections.abc import Iterable

import strawberry
import strawberry_django
from strawberry_django.auth.utils import get_current_user
from strawberry_django.relay import DjangoListConnection

from files_app import selectors
from files_app.exceptions import FileNotFound
from files_app.models import File

from .ids import decode_file_id
from .types import FileFilter, FileOrder, FileType


@strawberry.type
class Query:
    @strawberry_django.connection(
        DjangoListConnection[FileType],
        filters=FileFilter,
        order=FileOrder,
        description=("Your files (staff with the view_file permission: everyone's), newest "
                     "first unless ordered."),
    )
    def files(self, info: strawberry.Info) -> Iterable[File]:
        return selectors.file_list(user=get_current_user(info))

    @strawberry_django.field(description="A file by id; null when absent or not yours.")
    def file(self, info: strawberry.Info, id: strawberry.ID) -> FileType | None:
        try:
            return selectors.file_get(user=get_current_user(info), file_id=decode_file_id(id))
        except FileNotFound:
            return None
