"""Production settings pass Django's deployment checklist; DEBUG is off unless asked for."""

import os
import secrets
import subprocess
import sys

from tests.conftest import BASE_DIR

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "files.example.com",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "BEHIND_TLS_PROXY": "1",
}


def manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
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
