"""Bearer-token authentication for API clients, over HTTP and websockets."""


from . import services
from .http import DATABASE_DOWN, ConditionalMiddleware, json_error, unavailable_response

BEARER_SCHEME = "bearer"
API_PATH = "/graphql/"


def bearer_token_from(header_value: str | None) -> str | None:
    """The token in an `Authorization: Bearer <token>` value, or None."""
    scheme, _, token = (header_value or "").partition(" ")
    if scheme.lower() != BEARER_SCHEME:
        return None
    return token.strip() or None


def is_bearer(header_value: str | None) -> bool:
    return (header_value or "").partition(" ")[0].lower() == BEARER_SCHEME


def user_for_bearer_header(header_value: str | None):
    raw_token = bearer_token_from(header_value)
    return services.api_token_authenticate(raw_token=raw_token) if raw_token else None


class BearerTokenMiddleware(ConditionalMiddleware):
    """Replaces the session user with the token's user when a bearer token is sent.

    A request with a token can't be forged by another site (browsers never add one on their
    own), so it is exempt from CSRF checks. A wrong token is a 401, never an anonymous request.
    """

    def applies(self, request) -> bool:
        # No token, or another scheme that is not ours to judge: nothing to do.
        return is_bearer(request.headers.get("Authorization"))

    def handle(self, request):
        try:
            user = user_for_bearer_header(request.headers.get("Authorization"))
        except DATABASE_DOWN:
            return unavailable_response()
        if user is None:
            return json_error(
                "The bearer token is missing, unknown or revoked.",
                code="UNAUTHENTICATED",
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        request.user = user

        async def auser():
            return user

        request.auser = auser  # async views ask this one (AuthenticationMiddleware's)
        request._dont_enforce_csrf_checks = True
        return None


class CookielessRequestMiddleware(ConditionalMiddleware):
    """A GraphQL request that carries no cookies can't ride on anyone's session, so CSRF
    protects nothing there: skip the check so an anonymous API client gets UNAUTHENTICATED in
    JSON instead of Django's HTML CSRF page (found by the schemathesis run). Only for the API:
    the login form keeps its CSRF check (a cookieless cross-site login POST is an attack)."""

    def applies(self, request) -> bool:
        return (
            request.path == API_PATH
            and not request.COOKIES
            and not is_bearer(request.headers.get("Authorization"))
        )

    def handle(self, request):
        request._dont_enforce_csrf_checks = True
        return None

    async def __acall__(self, request):
        if self.applies(request):  # no I/O: no need for a thread
            self.handle(request)
        return await self.get_response(request)
