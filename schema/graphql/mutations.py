"""Writes: each resolver hands its input to one service in `files_app.services`.

Plain (blocking) resolvers: over HTTP the whole operation runs in the database thread
(schema/http/endpoint.py); over a websocket strawberry-django runs them in a thread for us.
"""

from datetime import datetime

import strawberry
import strawberry_django
from strawberry.file_uploads import Upload
from strawberry_django.auth.utils import get_current_user

from files_app import selectors, services

from .ids import decode_file_id, encode_file_id
from .scalars import BigInt
from .types import FileType
from .webhooks import WebhookMutation


@strawberry.type(description="One form field of a presigned POST.")
class UploadField:
    name: str
    value: str


@strawberry.type(
    description=(
        "Where to send a file's bytes straight to the storage: POST `url` as "
        "multipart/form-data with every one of `fields`, then the file last (as `file`), then "
        "call `completeUpload`. Exactly the declared size is accepted."
    )
)
class UploadUrl:
    file: FileType
    url: str
    fields: list[UploadField]
    expires_at: datetime = strawberry.field(description="The URL is refused after this.")


def current_user(info: strawberry.Info):
    return selectors.require_user(get_current_user(info))


@strawberry.type
class Mutation(WebhookMutation):
    @strawberry_django.mutation(description="Upload one file (GraphQL multipart request spec).")
    def upload_file(self, info: strawberry.Info, file: Upload) -> FileType:
        return services.file_create(owner=current_user(info), upload=file)

    @strawberry_django.mutation(
        description="Upload several files at once: all are stored, or none."
    )
    def upload_files(self, info: strawberry.Info, files: list[Upload]) -> list[FileType]:
        return services.files_create(owner=current_user(info), uploads=files)

    @strawberry_django.mutation(
        description=(
            "Start a direct upload (S3 storage only, else DIRECT_UPLOAD_UNAVAILABLE): the file "
            "is created AWAITING_UPLOAD, counted against your rate and quota at once, with a "
            "short-lived URL its bytes go to. `size` is in bytes."
        )
    )
    def create_upload_url(self, info: strawberry.Info, name: str, size: BigInt) -> UploadUrl:
        issued = services.file_upload_url_create(owner=current_user(info), name=name, size=size)
        return UploadUrl(
            file=issued.file,
            url=issued.url,
            expires_at=issued.expires_at,
            fields=[UploadField(name=k, value=v) for k, v in issued.fields.items()],
        )

    @strawberry_django.mutation(
        description=(
            "Finish a direct upload once its bytes are in the storage: they are copied to the "
            "file's key, and the file becomes PENDING and is processed. UPLOAD_MISSING or "
            "UPLOAD_SIZE_MISMATCH leave it AWAITING_UPLOAD; a file already completed is "
            "returned as it is; UPLOAD_LOCKED while another call completes it."
        )
    )
    def complete_upload(self, info: strawberry.Info, id: strawberry.ID) -> FileType:
        return services.file_upload_complete(user=current_user(info), file_id=decode_file_id(id))

    @strawberry_django.mutation(description="Process a DONE or FAILED file again.")
    def reprocess_file(self, info: strawberry.Info, id: strawberry.ID) -> FileType:
        return services.file_reprocess(user=current_user(info), file_id=decode_file_id(id))

    @strawberry_django.mutation(description="Delete a file and its stored bytes; returns its id.")
    def delete_file(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        deleted = services.file_delete(user=current_user(info), file_id=decode_file_id(id))
        return encode_file_id(deleted)
