"""Production settings pass Django's deployment checklist; DEBUG is off unless asked for; the
image runs uvicorn as the tests do."""

import json
import re
import secrets

from tests.support.deploy import PRODUCTION_ENV, manage
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
