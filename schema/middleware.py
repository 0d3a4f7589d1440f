"""Django middleware for the routes Django serves (the page, downloads, thumbnails, GraphiQL,
the admin). The GraphQL POST endpoint does not pass through Django (see `schema/asgi.py`)."""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.utils.deprecation import MiddlewareMixin

from .auth import bad_token_error, is_bearer, user_for_bearer_header
from .errors import DATABASE_DOWN, json_error, unavailable_response

logger = logging.getLogger(__name__)


class BearerTokenMiddleware:
    """Replaces the session user with the token's user when a bearer token is sent (API
    clients downloading a file). A request with a token can't be forged by another site
    (browsers never add one on their own), so it is exempt from CSRF checks. A wrong token is
    a 401, never an anonymous request. Requests without a token pass on the event loop,
    without a hop to a thread."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request):
        header = request.headers.get("Authorization")
        if is_bearer(header):
            try:
                user = await sync_to_async(user_for_bearer_header)(header)
            except DATABASE_DOWN:
                return unavailable_response()
            if user is None:
                error = bad_token_error()
                return json_error(error.message, code=error.code, status=error.status,
                                  headers=error.headers)
            request.user = user

            async def auser():
                return user

            request.auser = auser  # async views ask this one (AuthenticationMiddleware's)
            request._dont_enforce_csrf_checks = True
        return await self.get_response(request)


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Any view that finds the database unreachable (restarting, failing over) answers 503
    with Retry-After instead of a 500: the page, downloads, the admin, a session's first
    lookup. GraphQL resolvers map the same errors to SERVICE_UNAVAILABLE (schema/errors.py)."""

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.warning("Database unavailable during %s: %s", request.path, exception)
        return unavailable_response()
