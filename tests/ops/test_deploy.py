"""Production settings pass Django's deployment checklist; DEBUG is off unless asked for; the
answers given in front of Django carry the security headers Django's own do; the image runs
uvicorn as the tests do."""

import json
import re
import secrets

import pytest

from tests.support.deploy import PRODUCTION_ENV, manage
from tests.support.graphql import asgi_request
from tools.processes import (
    BASE_DIR,
    TRUSTED_PROXIES,
    UVICORN_PROXY_OPTIONS,
    UVICORN_WS_OPTIONS,
)


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_by_default_and_needs_a_secret_key():
    show_debug = ("shell", "-c", "from django.conf import settings; print(settings.DEBUG)")
    strong = secrets.token_urlsafe(50)
    assert manage(*show_debug, env={"SECRET_KEY": strong}).stdout.split()[-1] == "False"
    assert manage(*show_debug, env={"DEBUG": "1"}).stdout.split()[-1] == "True"
    refused = manage("check", env={"SECRET_KEY": ""})
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr


def test_a_placeholder_or_weak_secret_key_is_refused_when_debug_is_off():
    for weak in ("change-me", "x" * 60, "too-short-" + "a1b2c3", "django-insecure-" + "k" * 50):
        refused = manage("check", env={"SECRET_KEY": weak})
        assert refused.returncode != 0 and "placeholder or too weak" in refused.stderr, weak
    assert manage("check", env={"SECRET_KEY": "change-me", "DEBUG": "1"}).returncode == 0


@pytest.mark.django_db
def test_answers_in_front_of_django_say_nosniff_no_store_and_hsts_over_https(settings):
    """The GraphQL endpoint, tus and the probes answer without Django's middleware
    (schema/http/transport.py): each answer says nosniff and no-store, and over HTTPS the
    Strict-Transport-Security that SecurityMiddleware sends on Django's routes."""
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    answers = {
        "a GraphQL POST (anonymous)": ("POST", "/graphql/", {"json": {"query": "{ __typename }"}}),
        "a refused upload (no boundary)": (
            "POST",
            "/graphql/",
            {"headers": {"Content-Type": "multipart/form-data"}},
        ),
        "tus discovery": ("OPTIONS", "/tus/", {}),
        "a tus HEAD (anonymous)": ("HEAD", "/tus/0", {"headers": {"Tus-Resumable": "1.0.0"}}),
        "the liveness probe": ("GET", "/healthz", {}),
        "metrics with no token set": ("GET", "/metrics", {}),
    }
    for what, (method, path, options) in answers.items():
        for scheme in ("https", "http"):
            headers = asgi_request(method, f"{scheme}://localhost{path}", **options).headers
            assert headers.get("x-content-type-options") == "nosniff", what
            assert headers.get("cache-control") == "no-store", what
            hsts = headers.get("strict-transport-security")
            assert hsts == ("max-age=3600; includeSubDomains" if scheme == "https" else None), what


def test_the_image_runs_uvicorn_with_the_harness_options():
    """What the tests and the bench run (tools/processes.py) is what the image deploys: the
    websocket options, and X-Forwarded-* believed from the same proxy addresses (the image
    reads them from FORWARDED_ALLOW_IPS, so compose can name its proxy's network)."""
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    command = re.search(r"^CMD (\[.*?\])$", dockerfile, re.MULTILINE | re.DOTALL).group(1)
    arguments = json.loads(command.replace("\\\n", ""))
    options = list(UVICORN_WS_OPTIONS)
    assert any(arguments[i : i + len(options)] == options for i in range(len(arguments))), arguments
    assert "--proxy-headers" in arguments and "--forwarded-allow-ips" not in arguments
    trusted = re.search(r"^\s+FORWARDED_ALLOW_IPS=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert UVICORN_PROXY_OPTIONS == ("--proxy-headers", "--forwarded-allow-ips", trusted)
    assert trusted == TRUSTED_PROXIES and "*" not in trusted
