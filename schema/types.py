"""GraphQL types. Field names follow the contract in DESIGN.md."""

from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import Q
from django.urls import reverse
from strawberry import auto, relay
from strawberry_django.utils.requests import get_request

from files_app.models import File, FileKind, FileStatus

from .results import FileResult, result_for
from .types_common import BigInt


def absolute_url(request, path: str) -> str:
    """Absolute over HTTP (Django request) and websockets (the consumer's ASGI scope)."""
    if hasattr(request, "build_absolute_uri"):
        return request.build_absolute_uri(path)
    scope = getattr(request, "scope", {})
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin1")
    if not host:
        return path
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{host}{path}"


# The model's choices are the GraphQL enums: one list of statuses and kinds, not two.
FileStatusEnum = strawberry.enum(FileStatus, name="FileStatus")
FileKindEnum = strawberry.enum(FileKind, name="FileKind")


@strawberry_django.type(File, name="File")
class FileType(relay.Node):
    name: auto = strawberry_django.field(description="Original file name, sanitised.")
    size: BigInt = strawberry_django.field(description="Size in bytes.")
    content_type: str = strawberry_django.field(description="Sniffed from the bytes.")
    progress: float = strawberry_django.field(description="0.0 to 1.0 while processing.")
    uploaded_at: datetime
    processed_at: datetime | None
    version: int = strawberry_django.field(
        description="Grows with every change: newer state has a larger version."
    )

    @strawberry_django.field(only=["status"])
    def status(self) -> FileStatusEnum:
        return FileStatusEnum(self.status)

    @strawberry_django.field(only=["kind"], description="Told from the bytes.")
    def kind(self) -> FileKindEnum:
        return FileKindEnum(self.kind)

    @strawberry_django.field(
        only=["kind", "status", "result", "thumbnail"],
        description="What the processor for this kind found; null until DONE (and for OTHER).",
    )
    def result(self, info: strawberry.Info) -> FileResult | None:
        if self.status != FileStatus.DONE:
            return None
        thumbnail_url = None
        if self.thumbnail:
            thumbnail_url = absolute_url(
                get_request(info), reverse("file-thumbnail", args=[self.pk])
            )
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

    @strawberry_django.field(only=["id"], description="Download link (owner-checked).")
    def url(self, info: strawberry.Info) -> str:
        return absolute_url(get_request(info), reverse("file-download", args=[self.pk]))


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
