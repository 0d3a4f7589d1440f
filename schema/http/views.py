"""The views Django serves: GraphiQL, the owner-checked download and thumbnail, the page and
the login lockout page. (GraphQL requests themselves go to schema/http/endpoint.py, in front of
Django.)

On S3, a download or thumbnail is owner-checked here and then answered with a redirect to a
short-lived presigned URL (`AWS_QUERYSTRING_EXPIRE`), so the bytes don't pass through the web
process; the URL makes S3 answer with our Content-Type, Content-Disposition and
Cache-Control. S3 cannot add `X-Content-Type-Options` or the sandbox CSP: that the bytes are
served from the bucket's origin, never ours, is what keeps them from running as our page."""

import math

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpResponse,
    HttpResponseNotFound,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_safe

from files_app import selectors, storage
from files_app.exceptions import FileServiceError
from files_app.sizes import human_size

from ..auth import bad_token_error, is_bearer, refuse_other_schemes, user_for_bearer_header
from ..errors import EdgeError, ErrorCode

DOWNLOAD_CHUNK_SIZE = 256 * 1024
FRONTEND_BUNDLE = settings.BASE_DIR / "frontend" / "dist" / "app" / "app.js"
GRAPHIQL_BUNDLE = settings.BASE_DIR / "frontend" / "dist" / "graphiql" / "graphiql.js"
# A downloaded file is data, never a page of ours: no scripts, no plugins, no framing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"
# GraphiQL runs only our own scripts and talks only to us (fetch and its websocket): a query
# result or a schema description can never load or run anything else. Monaco sets inline
# styles, and starts its workers from our files.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


async def read_in_chunks(stored_file):
    """An async iterator: Django under ASGI would read a sync one whole into memory."""
    handle = await sync_to_async(stored_file.open)("rb")
    try:
        while chunk := await sync_to_async(handle.read)(DOWNLOAD_CHUNK_SIZE):
            yield chunk
    finally:
        await sync_to_async(handle.close)()


async def requester(request):
    """A bearer token's user (API clients downloading what they uploaded), else the
    session's. Tokens are API credentials: they count here and on the GraphQL endpoint, and
    nowhere else (not the page, not the admin)."""
    header = request.headers.get("Authorization")
    if not is_bearer(header):
        refuse_other_schemes(header)
        return await request.auser()
    user = await sync_to_async(user_for_bearer_header)(header)
    if user is None:
        raise bad_token_error()
    return user


async def owned_file_or_error(request, file_id):
    """(file, None) when the requester may read it, else (None, an error response)."""
    try:
        user = await requester(request)
        return await sync_to_async(selectors.file_get)(user=user, file_id=file_id), None
    except EdgeError as error:
        return None, error.response()
    except FileServiceError as error:  # not logged in, or not theirs (never revealed)
        return None, EdgeError.from_domain(error).response()


def stream_response(
    stored_file,
    *,
    content_type: str,
    size: int,
    filename: str,
    attachment: bool,
    with_body: bool = True,
):
    """The bytes streamed, or for HEAD the same headers and none of the bytes read."""
    if with_body:
        response = StreamingHttpResponse(read_in_chunks(stored_file), content_type=content_type)
    else:
        response = HttpResponse(content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(attachment, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    return response


def presigned_redirect(name: str, *, content_type: str, filename: str, attachment: bool):
    """302 to the object itself: S3 checks the signature, and answers with these headers."""
    parameters = {
        "ResponseContentType": content_type,
        "ResponseContentDisposition": content_disposition_header(attachment, filename),
        "ResponseCacheControl": "private, no-store",
    }
    response = HttpResponseRedirect(storage.presigned_download_url(name, parameters=parameters))
    response["Cache-Control"] = "private, no-store"  # the URL is a credential while it lives
    response["Referrer-Policy"] = "no-referrer"
    return response


async def serve(
    request,
    stored_file,
    *,
    content_type: str,
    filename: str,
    size: int | None = None,
    attachment: bool = True,
):
    """The stored bytes: a presigned redirect on S3, streamed from local disk otherwise (its
    size asked of the storage when not given). HEAD is answered here with GET's headers (a
    presigned URL is signed for GET only)."""
    with_body = request.method != "HEAD"
    if storage.is_s3() and with_body:
        try:
            return await sync_to_async(presigned_redirect)(
                stored_file.name,
                content_type=content_type,
                filename=filename,
                attachment=attachment,
            )
        except OSError:  # no usable credentials: logged by s3_errors, never echoed
            return EdgeError.unavailable().response()
    if size is None:
        size = await sync_to_async(lambda: stored_file.size)()
    return stream_response(
        stored_file,
        size=size,
        content_type=content_type,
        filename=filename,
        attachment=attachment,
        with_body=with_body,
    )


@require_GET
@ensure_csrf_cookie
def graphiql(request):
    """GET /graphql/: our own GraphiQL (frontend/src/graphiql/, when GRAPHQL_GRAPHIQL is on),
    whose scripts, workers and fonts are all served from here: it works with no internet. It
    sets the `csrftoken` cookie that the page and GraphiQL send back as X-CSRFToken; their
    POSTs reach schema/http/endpoint.py."""
    if not settings.GRAPHQL_GRAPHIQL:
        return HttpResponseNotFound("Not Found")
    response = render(request, "graphiql.html", {"graphiql_built": GRAPHIQL_BUNDLE.exists()})
    response["Content-Security-Policy"] = GRAPHIQL_CSP
    return response


@require_safe
async def download(request, file_id):
    """The uploaded bytes, always as an attachment: never rendered on our origin."""
    file, error = await owned_file_or_error(request, file_id)
    if error:
        return error
    return await serve(
        request,
        file.stored_file,
        filename=file.name,
        size=file.size,
        content_type=file.content_type or "application/octet-stream",
    )


@require_safe
async def thumbnail(request, file_id):
    file, error = await owned_file_or_error(request, file_id)
    if error:
        return error
    if not file.thumbnail:
        return EdgeError("This file has no thumbnail.", ErrorCode.NOT_FOUND).response()
    return await serve(
        request,
        file.thumbnail,
        content_type="image/webp",
        filename=f"{file.name}.webp",
        attachment=False,
    )


@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for on every page (the admin's too): an SVG icon."""
    response = render(request, "favicon.svg", content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
def index(request):
    """The live page; its scripts are the Vite build in frontend/dist (see frontend/)."""
    return render(
        request,
        "index.html",
        {
            "graphiql_enabled": settings.GRAPHQL_GRAPHIQL,
            "max_upload_size": settings.MAX_UPLOAD_SIZE,
            "max_upload_size_text": human_size(settings.MAX_UPLOAD_SIZE),
            "max_files": settings.MAX_FILES_PER_REQUEST,
            "frontend_built": FRONTEND_BUNDLE.exists(),
            # The page sends the bytes straight to the bucket (frontend/src/directUpload.ts).
            "direct_upload": storage.is_s3(),
            # Files from this size on go through tus, resumable (frontend/src/tus.ts).
            "tus_threshold": settings.TUS_THRESHOLD,
            "tus_chunk_size": max(settings.TUS_CHUNK_SIZE, storage.MIN_PART_SIZE)
            if storage.is_s3()
            else settings.TUS_CHUNK_SIZE,
        },
    )


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a login refused after too many failures (AXES_LOCKOUT_CALLABLE):
    a page that says so, 429 with Retry-After (each new failure starts the wait again)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
