"""GraphQL types. Field names follow the API contract in docs/api.md; the exported
SDL is `schema.graphql` (`make schema`)."""

import functools
import uuid
from datetime import datetime
from typing import ClassVar

import strawberry
import strawberry_django
from django.db.models import Q
from django.urls import reverse
from strawberry import auto, relay
from strawberry_django.utils.requests import get_request

from files_app.failures import FailureCode
from files_app.models import File, FileStatus
from files_app.processors import FileKind

from .results import FileResult, result_for
from .scalars import BigInt

PLACEHOLDER_ID = uuid.UUID(int=0)


@functools.cache
def route(name: str) -> str:
    """A file route with `{}` for the id. Resolved once: `reverse()` per row, which reads
    request-local state several times, would be a third of the time of a page of 100 files
    (profiled under `make bench`)."""
    return reverse(name, args=[PLACEHOLDER_ID]).replace(str(PLACEHOLDER_ID), "{}")


def origin(request) -> str:
    """`scheme://host` over HTTP (Django request) and websockets (the consumer's ASGI
    scope), worked out once per request or connection."""
    cached = getattr(request, "_files_origin", None)
    if cached is not None:
        return cached
    if hasattr(request, "build_absolute_uri"):
        cached = request.build_absolute_uri("/").removesuffix("/")
    else:
        scope = getattr(request, "scope", {})
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin1")
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        cached = f"{scheme}://{host}" if host else ""
    request._files_origin = cached
    return cached


def file_url(info: strawberry.Info, route_name: str, file_id) -> str:
    return origin(get_request(info)) + route(route_name).format(file_id)


# One list each: statuses are the model's choices, kinds are `processors.kinds`.
FileStatusEnum = strawberry.enum(FileStatus, name="FileStatus")
FileKindEnum = strawberry.enum(FileKind, name="FileKind")
FailureCodeEnum = strawberry.enum(
    FailureCode, name="FailureCode", description='Why a file FAILED (docs/api.md, "Errors").'
)


@strawberry_django.type(File, name="File")
class FileType(relay.Node):
    # The id is the primary key: said here, or Relay looks for it in the type hints on every
    # row (seen under `make bench`).
    _id_attr: ClassVar[str] = "pk"
    name: auto = strawberry_django.field(description="Original file name, sanitised.")
    size: BigInt = strawberry_django.field(description="Size in bytes.")
    content_type: str = strawberry_django.field(description="Sniffed from the bytes.")
    progress: float = strawberry_django.field(description="0.0 to 1.0 while processing.")
    uploaded_at: datetime
    processed_at: datetime | None
    version: int = strawberry_django.field(
        description="Grows with every change: newer state has a larger version."
    )

    # Plain fields: the stored string serialises to the enum as it is, with no resolver
    # (and no enum built) per row.
    status: FileStatusEnum = strawberry_django.field()
    kind: FileKindEnum = strawberry_django.field(description="Told from the bytes.")

    @strawberry_django.field(
        only=["kind", "status", "result", "thumbnail"],
        description="What the processor for this kind found; null until DONE (and for OTHER).",
    )
    def result(self, info: strawberry.Info) -> FileResult | None:
        if self.status != FileStatus.DONE:
            return None
        thumbnail_url = None
        if self.thumbnail:
            thumbnail_url = file_url(info, "file-thumbnail", self.pk)
        return result_for(self.kind, self.result, thumbnail_url=thumbnail_url)

    @strawberry_django.field(only=["status"], description="status == DONE")
    def processed(self) -> bool:
        return self.status == FileStatus.DONE

    @strawberry_django.field(only=["sha256"], description="Hex SHA-256, set when processed.")
    def sha256(self) -> str | None:
        return self.sha256 or None

    @strawberry_django.field(only=["error"], description="Why it FAILED, in plain words.")
    def error(self) -> str | None:
        return self.error or None

    @strawberry_django.field(
        only=["failure_code"], description="Why it FAILED, as a code to act on; null otherwise."
    )
    def failure_code(self) -> FailureCodeEnum | None:
        return FailureCode(self.failure_code) if self.failure_code else None

    @strawberry_django.field(
        only=["id"],
        description=(
            "True only in the last `fileUpdates` event of a file that was deleted: the event "
            "carries the file's final state; the file is gone and its links no longer work."
        ),
    )
    def deleted(self) -> bool:
        return getattr(self, "deleted", False)  # set on event-built files (events.py)

    @strawberry_django.field(only=["id"], description="Download link (owner-checked).")
    def url(self, info: strawberry.Info) -> str:
        return file_url(info, "file-download", self.pk)


@strawberry_django.filter_type(File)
class FileFilter:
    """Combined with AND. Only indexed, cheap lookups: no regexes on user input."""

    @strawberry_django.filter_field(description="Files in this status.")
    def status(self, value: FileStatusEnum, prefix: str) -> Q:
        return Q(**{f"{prefix}status": value.value})

    @strawberry_django.filter_field(description="Files in any of these statuses.")
    def status_in(self, value: list[FileStatusEnum], prefix: str) -> Q:
        return Q(**{f"{prefix}status__in": [status.value for status in value]})

    @strawberry_django.filter_field(description="Name contains this text (any case).")
    def name_contains(self, value: str, prefix: str) -> Q:
        return Q(**{f"{prefix}name__icontains": value})

    @strawberry_django.filter_field(description="Uploaded at or after this time.")
    def uploaded_after(self, value: datetime, prefix: str) -> Q:
        return Q(**{f"{prefix}uploaded_at__gte": value})

    @strawberry_django.filter_field(description="Uploaded before this time.")
    def uploaded_before(self, value: datetime, prefix: str) -> Q:
        return Q(**{f"{prefix}uploaded_at__lt": value})


@strawberry_django.order_type(File)
class FileOrder:
    uploaded_at: auto
    name: auto
    size: auto
