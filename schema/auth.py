"""Who is asking, told from the request headers alone (never the body).

- `Authorization: Bearer <token>`: an API client. A wrong token is a 401, never an anonymous
  request. Browsers never add this header on their own, so such requests need no CSRF token.
  Another scheme (a bare token, `Token <token>`) is a 401 naming `Bearer`, not an anonymous
  request either; `Basic` is left alone: a proxy's own login (nginx `auth_basic`) sends it.
- Otherwise the Django session cookie, with Django's own CSRF check (`X-CSRFToken`) when the
  session belongs to someone: a cross-site form can't act for a logged-in user.
- Neither: anonymous (every resolver then answers UNAUTHENTICATED).
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.datastructures import MultiValueDict

from files_app import exceptions, selectors, services

from .errors import EdgeError, ErrorCode

BEARER_SCHEME = "bearer"
PROXY_SCHEME = "basic"
BAD_TOKEN = "The bearer token is missing, unknown or revoked."
WRONG_SCHEME = "Send the API token as `Authorization: Bearer <token>`: the scheme must be `Bearer`."
CSRF_FAILED = (
    "CSRF check failed: a logged-in browser must send the `csrftoken` cookie's "
    "value as the X-CSRFToken header."
)


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


def users_for_bearer_headers(header_values) -> dict[str, object]:
    """`user_for_bearer_header` for many headers in one query, without noting the use (a
    check of an open connection is not a use): header -> user, valid ones only."""
    tokens = {header: bearer_token_from(header) for header in header_values}
    users = selectors.api_token_users(raw_tokens={token for token in tokens.values() if token})
    return {header: users[token] for header, token in tokens.items() if token in users}


def bad_token_error(message: str = BAD_TOKEN) -> EdgeError:
    return EdgeError(
        message, ErrorCode.UNAUTHENTICATED, headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


def is_other_scheme(header_value: str | None, *, allowed=(BEARER_SCHEME, PROXY_SCHEME)) -> bool:
    """Credentials in a scheme we don't take: meant as a token, never to be read as anonymous."""
    scheme = (header_value or "").strip().partition(" ")[0].lower()
    return bool(scheme) and scheme not in allowed


def refuse_other_schemes(header_value: str | None) -> None:
    if is_other_scheme(header_value):
        raise bad_token_error(WRONG_SCHEME)


def session_user(request):
    """The session's user, loaded the way Django's middleware would (blocking: a thread)."""
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(request)


def csrf_passes(request, *, every_method: bool = False) -> bool:
    """Django's CSRF check (origin, referer, token), told from headers and cookies only: the
    body is marked as read-and-empty first so the check never parses it. Django skips the
    check for a GET; `every_method` checks a GET as a POST (see `authenticate`)."""
    request._post, request._files = QueryDict(), MultiValueDict()
    middleware = CsrfViewMiddleware(lambda request: None)
    middleware.process_request(request)
    method = request.method
    if every_method:
        request.method = "POST"
    try:
        return middleware.process_view(request, None, (), {}) is None
    finally:
        request.method = method


def authenticated_user(request, *, csrf_on_every_method: bool = False):
    """`authenticate`, and anonymous is refused (401): for the routes that take bytes, and
    the GraphQL endpoint."""
    user = authenticate(request, csrf_on_every_method=csrf_on_every_method)
    if not user.is_authenticated:
        raise EdgeError(exceptions.NotAuthenticated.default_message, ErrorCode.UNAUTHENTICATED)
    return user


def authenticate(request, *, csrf_on_every_method: bool = False):
    """Set `request.user` from the headers; raises EdgeError for a bad token or a forged
    session request. Blocking (database): run it in a thread.

    `csrf_on_every_method`: a GraphQL query sent with GET reads the user's files for whoever
    made the browser send it (an `<img>`, a link on another site); such a request cannot
    read the answer, but it can spend the user's query budget, and a cross-site read through
    a side channel is one bug away. A session's GET is held to the POST's CSRF check."""
    header = request.headers.get("Authorization")
    if is_bearer(header):
        user = user_for_bearer_header(header)
        if user is None:
            raise bad_token_error()
    else:
        refuse_other_schemes(header)
        user = session_user(request)
        if user.is_authenticated and not csrf_passes(request, every_method=csrf_on_every_method):
            raise EdgeError(CSRF_FAILED, ErrorCode.FORBIDDEN)
    request.user = user
    return user
