"""HTTP helpers: the JSON error body every non-GraphQL failure uses (shaped like a GraphQL
error, so a client needs one error handler), 503 for a database outage, and a cheap
async-capable middleware base."""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

UNAVAILABLE = "The service is briefly unavailable; try again in a moment."
DATABASE_DOWN = (OperationalError, InterfaceError)


def unavailable_response() -> JsonResponse:
    return json_error(UNAVAILABLE, code="SERVICE_UNAVAILABLE", status=503,
                      headers={"Retry-After": "5"})


def json_error(message: str, *, code: str, status: int, headers=None) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status=status,
        headers=headers,
    )


class ConditionalMiddleware:
    """A middleware that does blocking work only for the requests it `applies` to.

    Django runs a sync middleware under ASGI by hopping to a thread for every request; this
    one checks `applies` (cheap, no I/O) on the event loop and hops only when it must.
    `handle` returns a response to answer early, or None to go on.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        response = self.handle(request) if self.applies(request) else None
        return response or self.get_response(request)

    async def __acall__(self, request):
        if self.applies(request):
            response = await sync_to_async(self.handle)(request)
            if response is not None:
                return response
        return await self.get_response(request)

    def applies(self, request) -> bool:
        raise NotImplementedError

    def handle(self, request):
        raise NotImplementedError


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Any view that finds the database unreachable (restarting, failing over) answers 503
    with Retry-After instead of a 500: the page, downloads, the admin, a session's first
    lookup. GraphQL resolvers map the same errors to SERVICE_UNAVAILABLE (schema/errors.py)."""

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.warning("Database unavailable during %s: %s", request.path, exception)
        return unavailable_response()
