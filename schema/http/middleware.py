"""Django middleware for the routes Django serves (the page, downloads, thumbnails, GraphiQL,
the admin). The GraphQL POST endpoint does not pass through Django (see `schema/http/asgi.py`)."""

import logging

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin

from ..errors import DATABASE_DOWN, EdgeError

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Any view that finds the database unreachable (restarting, failing over) answers 503
    with Retry-After instead of a 500: the page, downloads, the admin, a session's first
    lookup. GraphQL resolvers map the same errors to SERVICE_UNAVAILABLE (schema/errors.py)."""

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.warning("Database unavailable during %s: %s", request.path, exception)
        return EdgeError.unavailable().response()


# The pages Django renders (the page, login, admin) run only scripts served from here: a
# file name or any text that slipped into the HTML unescaped can't run as script, load a
# plugin or move relative URLs elsewhere. Styles are not restricted (the templates and the
# admin set inline ones). A response that sets its own policy keeps it: the downloads'
# sandbox, GraphiQL's stricter one (schema/http/views.py).
PAGE_CSP = "script-src 'self'; object-src 'none'; base-uri 'none'"
CSP_HEADER = "Content-Security-Policy"


@sync_and_async_middleware
def content_security_policy(get_response):
    """Django 5.2 has no CSP middleware of its own (6.0 adds one): this one sets PAGE_CSP
    where a view set none. Sync and async, so the async views keep running without a thread
    hop."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response.headers.setdefault(CSP_HEADER, PAGE_CSP)
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response.headers.setdefault(CSP_HEADER, PAGE_CSP)
            return response

    return middleware
