"""Resumable uploads over the tus 1.0 protocol (https://tus.io/protocols/resumable-upload):
core, creation, termination and expiration, at /tus/, served as its own ASGI app beside
POST /graphql/ (schema/http/asgi.py), with the same checks-first rules as that endpoint.

- OPTIONS /tus/ says what is supported (no authentication: tus clients may ask first).
- Every other request names `Tus-Resumable: 1.0.0` and is authenticated from its headers
  alone (Bearer token, or session + CSRF: `schema.auth`) before one byte of its body is read.
- POST /tus/ with `Upload-Length` (and `Upload-Metadata` `filename`) creates the upload:
  size, rate and quota are checked there, as for any upload, and refused with 413/429.
  The answer's `Location` is the upload's URL, its `File-Id` the File's GraphQL id.
- HEAD <url> gives `Upload-Offset` and `Upload-Length`: where to resume.
- PATCH <url> (`application/offset+octet-stream`, `Upload-Offset`) appends bytes, streamed
  into the storage through a bounded buffer; an offset other than the stored one is 409, and
  one sent while another PATCH of the upload is still writing is 423 (tus clients retry it),
  both before a byte of it is read.
  Bytes that arrived before a dropped connection are kept. The last byte makes the File
  PENDING: it is processed, and `fileUpdates` reports it, like any upload.
- DELETE <url> terminates an unfinished upload: its File and bytes are deleted (423 while a
  PATCH writes it).
Why not a library: the maintained Python tus servers (asgi-tus, tussi) keep their own
storage and know nothing of our users, limits or Files; django-tus is a synchronous view
behind Django's handler, which spools each body before any check (see schema/http/endpoint.py).
"""

import asyncio
import base64
import binascii
import logging

from django.conf import settings
from django.utils.http import http_date

from files_app import exceptions, selectors, services
from files_app.models import FileStatus, ResumableUpload
from files_app.numbers import parse_digits
from files_app.sizes import human_size

from ..auth import authenticated_user
from ..errors import EdgeError, ErrorCode
from ..graphql.ids import encode_file_id
from ..observability import UPLOAD_BYTES, UPLOADS
from .pacing import BodyTimeout
from .reservations import kept
from .transport import (
    JSON,
    ClientGone,
    answer,
    check_host,
    declared_length,
    json_bytes,
    receive_into,
    refusal,
    unread_request,
    with_database,
)

logger = logging.getLogger(__name__)

TUS_PATH = "/tus/"
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
MAX_METADATA_SIZE = 4096


def service(function, keywords: dict):
    """A service call, its domain errors as the answers they map to (404, 409, 413, 429…)."""
    try:
        return function(**keywords)
    except exceptions.FileServiceError as error:
        raise EdgeError.from_domain(error) from None


def header_number(request, name: str) -> int:
    number = parse_digits(request.headers.get(name, ""))
    if number is None:
        raise EdgeError(f"{name} must be a number of bytes (digits 0-9).", ErrorCode.BAD_REQUEST)
    return number


def metadata(request) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (a value may be absent)."""
    raw = request.headers.get("Upload-Metadata", "")
    if len(raw) > MAX_METADATA_SIZE:
        raise EdgeError("Upload-Metadata is too long.", ErrorCode.BAD_REQUEST)
    pairs = {}
    for pair in filter(None, (item.strip() for item in raw.split(","))):
        key, _, value = pair.partition(" ")
        try:
            pairs[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise EdgeError(
                f"Upload-Metadata {key!r} is not base64 UTF-8.", ErrorCode.BAD_REQUEST
            ) from None
    return pairs


def upload_headers(upload: ResumableUpload) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.file.size),
        "File-Id": encode_file_id(upload.pk),
    }
    if upload.file.status == FileStatus.AWAITING_UPLOAD:
        headers["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return headers


def discovery_headers() -> dict[str, str]:
    return {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(settings.MAX_UPLOAD_SIZE),
    }


class TusEndpoint:
    async def __call__(self, scope, receive, send):
        request = unread_request(scope)  # headers only: the body is read here
        body, content_type = b"", None
        try:
            status, headers = await self.respond(request, receive)
        except ClientGone:
            return
        except Exception as error:
            refused = refusal(error, "the tus endpoint")
            status, headers = refused.status, refused.headers
            body, content_type = json_bytes(refused.body()), JSON
        if request.method == "HEAD":
            body = b""
        headers = {"Tus-Resumable": TUS_VERSION, **headers}
        await answer(send, request, status, body, content_type=content_type, headers=headers)

    async def respond(self, request, receive) -> tuple[int, dict]:
        check_host(request)
        if request.method == "OPTIONS":
            return 204, discovery_headers()
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise EdgeError(
                f"Send `Tus-Resumable: {TUS_VERSION}`: the only version served.",
                ErrorCode.BAD_REQUEST,
                status=412,
                headers={"Tus-Version": TUS_VERSION},
            )
        user = await with_database(authenticated_user)(request)
        file_id = request.path_info.removeprefix(TUS_PATH).strip("/")
        if not file_id and request.method == "POST":
            return await with_database(self.create)(request, user)
        if file_id and request.method == "HEAD":
            upload = await with_database(service)(
                selectors.resumable_upload_get, {"user": user, "file_id": file_id}
            )
            return 200, upload_headers(upload)
        if file_id and request.method == "PATCH":
            return await self.patch(request, receive, user, file_id)
        if file_id and request.method == "DELETE":
            await with_database(service)(
                services.resumable_upload_terminate, {"user": user, "file_id": file_id}
            )
            return 204, {}
        raise EdgeError(
            f"{request.method} is not a tus request here.",
            ErrorCode.BAD_REQUEST,
            status=405,
            headers={"Allow": "OPTIONS, POST, HEAD, PATCH, DELETE"},
        )

    def create(self, request, user) -> tuple[int, dict]:
        if "Upload-Defer-Length" in request.headers:
            raise EdgeError(
                "Declare the size with Upload-Length (no deferred length).", ErrorCode.BAD_REQUEST
            )
        try:
            size = header_number(request, "Upload-Length")
            described = metadata(request)
            name = described.get("filename") or described.get("name") or ""
            upload = service(
                services.resumable_upload_create, {"owner": user, "name": name, "size": size}
            )
        except EdgeError as error:  # counted like a refused upload through /graphql/
            UPLOADS.labels(outcome="refused", code=error.code).inc()
            raise
        UPLOADS.labels(outcome="accepted", code="OK").inc()
        location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{upload.pk.hex}")
        return 201, {"Location": location, **upload_headers(upload)}

    async def patch(self, request, receive, user, file_id) -> tuple[int, dict]:
        if request.content_type != OFFSET_STREAM:
            raise EdgeError(
                f"A PATCH sends `Content-Type: {OFFSET_STREAM}`.", ErrorCode.BAD_REQUEST, status=415
            )
        offset = header_number(request, "Upload-Offset")
        length = declared_length(request)
        upload = await with_database(self.writable)(user, file_id, offset)
        if length is not None and offset + length > upload.file.size:
            raise EdgeError(
                f"This upload was declared as {human_size(upload.file.size)}; "
                "the request goes past its end.",
                ErrorCode.FILE_TOO_LARGE,
            )
        # One writer at a time: a PATCH sent while another writes is refused here, unread.
        upload, reservation = await with_database(service)(
            services.resumable_upload_claim, {"upload": upload, "offset": offset}
        )
        try:
            async with kept(reservation):
                return await self.write(upload, reservation, receive)
        except exceptions.FileServiceError as error:  # its turn lapsed (UploadLocked)
            raise EdgeError.from_domain(error) from None

    async def write(self, upload, reservation, receive) -> tuple[int, dict]:
        writer = await asyncio.to_thread(
            services.resumable_upload_writer, upload=upload, reservation=reservation
        )
        failure = None
        try:
            await receive_into(writer, receive)
        except (ClientGone, BodyTimeout, OverflowError, OSError) as error:
            failure = error  # what arrived before a dropped (or stalled) client is kept
        except BaseException:  # its turn lapsed, or the request was stopped: nothing more
            writer.abandon()
            raise
        try:
            stored = await asyncio.to_thread(writer.close)
            UPLOAD_BYTES.inc(stored)
        except OSError as error:
            failure = error
        if isinstance(failure, OSError):  # a full disk, S3 away: nothing recorded
            logger.error("A tus upload could not be written to the storage: %s", failure)
            raise EdgeError.unavailable()
        upload = await with_database(service)(
            services.resumable_upload_advance, {"writer": writer, "stored": stored}
        )
        if isinstance(failure, OverflowError):
            raise EdgeError(str(failure), ErrorCode.FILE_TOO_LARGE)
        if failure is not None:
            raise failure
        return 204, upload_headers(upload)

    def writable(self, user, file_id, offset) -> ResumableUpload:
        upload = service(selectors.resumable_upload_get, {"user": user, "file_id": file_id})
        service(services.resumable_upload_check, {"upload": upload, "offset": offset})
        return upload
