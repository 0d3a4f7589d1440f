import secrets

from django.utils import timezone

from .. import selectors
from ..models import ApiToken

# Bearer tokens record their last use at most this often, so authenticating is rarely a write.
TOKEN_LAST_USED_GRANULARITY_SECONDS = 60


def api_token_create(*, user, name: str = "") -> str:
    """Create a token and return it in clear: the only time it is ever visible."""
    raw_token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, token_hash=ApiToken.hash(raw_token))
    return raw_token


def api_token_authenticate(*, raw_token: str):
    """The active user a bearer token belongs to, or None; notes when it was last used."""
    user = selectors.api_token_user(raw_token=raw_token)
    if user is None:
        return None
    now = timezone.now()
    last_used = user.api_token_last_used_at
    if last_used is None or (now - last_used).total_seconds() > TOKEN_LAST_USED_GRANULARITY_SECONDS:
        ApiToken.objects.filter(pk=user.api_token_id).update(last_used_at=now)
    return user
