"""Writes: each resolver hands its input to one service in `files_app.services`."""

import strawberry
from asgiref.sync import sync_to_async
from strawberry.file_uploads import Upload
from strawberry_django.auth.utils import aget_current_user

from files_app import selectors, services

from .ids import decode_file_id, encode_file_id
from .types import FileType


async def current_user(info: strawberry.Info):
    return selectors.require_user(await aget_current_user(info))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Upload one file (GraphQL multipart request spec).")
    async def upload_file(self, info: strawberry.Info, file: Upload) -> FileType:
        owner = await current_user(info)
        return await sync_to_async(services.file_create)(owner=owner, upload=file)

    @strawberry.mutation(description="Upload several files at once: all are stored, or none.")
    async def upload_files(self, info: strawberry.Info, files: list[Upload]) -> list[FileType]:
        owner = await current_user(info)
        return await sync_to_async(services.files_create)(owner=owner, uploads=files)

    @strawberry.mutation(description="Process a DONE or FAILED file again.")
    async def reprocess_file(self, info: strawberry.Info, id: strawberry.ID) -> FileType:
        user = await current_user(info)
        return await sync_to_async(services.file_reprocess)(user=user, file_id=decode_file_id(id))

    @strawberry.mutation(description="Delete a file and its stored bytes; returns its id.")
    async def delete_file(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        user = await current_user(info)
        deleted = await sync_to_async(services.file_delete)(user=user, file_id=decode_file_id(id))
        return encode_file_id(deleted)
