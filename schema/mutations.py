"""Writes: each resolver hands its input to one service in `files_app.services`.

Plain (blocking) resolvers: over HTTP the whole operation runs in the database thread
(schema/endpoint.py); over a websocket strawberry-django runs them in a thread for us.
"""

import strawberry
import strawberry_django
from strawberry.file_uploads import Upload
from strawberry_django.auth.utils import get_current_user

from files_app import selectors, services

from .ids import decode_file_id, encode_file_id
from .types import FileType


def current_user(info: strawberry.Info):
    return selectors.require_user(get_current_user(info))


@strawberry.type
class Mutation:
    @strawberry_django.mutation(description="Upload one file (GraphQL multipart request spec).")
    def upload_file(self, info: strawberry.Info, file: Upload) -> FileType:
        return services.file_create(owner=current_user(info), upload=file)

    @strawberry_django.mutation(
        description="Upload several files at once: all are stored, or none.")
    def upload_files(self, info: strawberry.Info, files: list[Upload]) -> list[FileType]:
        return services.files_create(owner=current_user(info), uploads=files)

    @strawberry_django.mutation(description="Process a DONE or FAILED file again.")
    def reprocess_file(self, info: strawberry.Info, id: strawberry.ID) -> FileType:
        return services.file_reprocess(user=current_user(info), file_id=decode_file_id(id))

    @strawberry_django.mutation(description="Delete a file and its stored bytes; returns its id.")
    def delete_file(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        deleted = services.file_delete(user=current_user(info), file_id=decode_file_id(id))
        return encode_file_id(deleted)
