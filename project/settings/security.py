"""Security: the secret key, allowed hosts and origins, login throttling (django-axes),
cookies and HTTPS."""

import os
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from project.settings.base import DEBUG
from project.settings.env import env_bool, env_int, env_list

SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Django's own bar for a secret key (check --deploy, security.W009), refused outright here:
# a placeholder copied from .env.example would sign every session and CSRF token.
SECRET_KEY_PLACEHOLDERS = {"change-me", "changeme", "secret", "your-secret-key"}
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE_CHARACTERS = 50, 5
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. On a local checkout run with DEBUG=1, "
            "as `make run` does: `DEBUG=1 .venv/bin/python manage.py …`, `make token`, "
            "`make user`."
        )
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"
elif not DEBUG and (
    SECRET_KEY.lower() in SECRET_KEY_PLACEHOLDERS
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
    or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
):
    raise ImproperlyConfigured(
        "SECRET_KEY is a placeholder or too weak: use at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- Login throttling (django-axes) --------------------------------------------------------
# Password logins (/accounts/login/, /admin/login/) are refused for LOGIN_LOCKOUT_MINUTES
# once LOGIN_FAILURE_LIMIT of them have failed from one client address, or for one username
# (each counted apart), within that time. Sessions already logged in and bearer tokens never
# pass through a login, so a lockout does not touch them. 0 turns throttling off.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_LOCKOUT_CALLABLE = "schema.http.views.login_locked_out"  # a 429 page with Retry-After
# Not its "AXES: BEGIN version …" line at every start of every command (and lockouts are
# logged with the lockout parameters only, not the user agent).
AXES_VERBOSE = False
# The client address is REMOTE_ADDR and nothing a client sends: behind a proxy (see
# BEHIND_TLS_PROXY) uvicorn's --proxy-headers sets it from the X-Forwarded-For of a trusted
# proxy (--forwarded-allow-ips), so nobody picks their own address to dodge the per-IP limit.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login outright
    "django.contrib.auth.backends.ModelBackend",
]

# --- Security headers for production --------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
# Set to 1 when the site is served over HTTPS (cookies then never travel in clear text).
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
# HTTPS-only deployments: redirect plain HTTP and send HSTS (both off by default, since the
# embedded local default and docker compose serve plain HTTP on localhost).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"
