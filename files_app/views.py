"""Plain HTTP views: the owner-checked download and the page."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from . import selectors
from .exceptions import FileNotFound, NotAuthenticated
from .http import json_error

DOWNLOAD_CHUNK_SIZE = 256 * 1024
# A downloaded file is data, never a page of ours: no scripts, no plugins, no framing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


async def read_in_chunks(stored_file):
    """An async iterator: Django under ASGI would read a sync one whole into memory."""
    handle = await sync_to_async(stored_file.open)("rb")
    try:
        while chunk := await sync_to_async(handle.read)(DOWNLOAD_CHUNK_SIZE):
            yield chunk
    finally:
        await sync_to_async(handle.close)()


@require_GET
async def download(request, file_id):
    user = await request.auser()
    try:
        file = await sync_to_async(selectors.file_get)(user=user, file_id=file_id)
    except NotAuthenticated as error:
        return json_error(error.message, code="UNAUTHENTICATED", status=401)
    except FileNotFound as error:
        return json_error(error.message, code="NOT_FOUND", status=404)
    response = StreamingHttpResponse(
        read_in_chunks(file.stored_file),
        content_type=file.content_type or "application/octet-stream",
    )
    response["Content-Length"] = str(file.size)
    response["Content-Disposition"] = content_disposition_header(True, file.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    return response


def index(request):
    return render(
        request,
        "index.html",
        {
            "graphiql_enabled": settings.GRAPHQL_GRAPHIQL,
            "max_upload_size": settings.MAX_UPLOAD_SIZE,
            "max_files": settings.MAX_FILES_PER_REQUEST,
        },
    )
