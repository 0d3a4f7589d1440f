"""API tokens: created (shown once), checked on every API request, revoked."""

import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .. import selectors
from ..models import ApiToken

# A token records its last use at most this often, so checking one is rarely a write.
TOKEN_LAST_USED_GRANULARITY = timedelta(seconds=60)


def api_token_create(*, user, name: str = "", expires_in: timedelta | None = None) -> str:
    """Create a token and return it in clear: the only time it is ever visible. Without
    `expires_in` it works until revoked."""
    raw_token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    ApiToken.objects.create(
        user=user, name=name, token_hash=ApiToken.hash(raw_token), expires_at=expires_at
    )
    return raw_token


def api_token_authenticate(*, raw_token: str):
    """The active user an unexpired bearer token belongs to, or None. Notes when the token
    was last used, at most once a minute and in one conditional UPDATE: a request path that
    wrote on every call would serialise API clients on the token's row."""
    user = selectors.api_token_user(raw_token=raw_token)
    if user is None:
        return None
    now = timezone.now()
    stale = now - TOKEN_LAST_USED_GRANULARITY
    last_used = user.api_token_last_used_at
    if last_used is None or last_used < stale:
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=user.api_token_id
        ).update(last_used_at=now)
    return user


def api_token_revoke(
    *, user=None, name: str | None = None, raw_token: str | None = None
) -> list[str]:
    """Delete tokens: the one whose clear text is `raw_token`, else `user`'s tokens named
    `name`, else all of `user`'s tokens. Returns a description of each token revoked (none:
    nothing matched). A revoked token is gone: it is refused like one that never existed."""
    if raw_token is not None:
        tokens = selectors.api_tokens_matching(raw_token=raw_token)
    else:
        tokens = selectors.api_tokens_of(user=user, name=name)
    revoked = [str(token) for token in tokens.select_related("user")]
    tokens.delete()
    return revoked
