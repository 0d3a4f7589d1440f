"""Django middleware for the routes Django serves (the page, downloads, thumbnails, GraphiQL,
the admin). The GraphQL POST endpoint does not pass through Django (see `schema/asgi.py`)."""

import logging

from django.utils.deprecation import MiddlewareMixin

from .errors import DATABASE_DOWN, EdgeError

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
