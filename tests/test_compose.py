"""docker-compose.yml is for users who can't be watched over: it must be valid Compose, and
its production defaults must be the safe ones. There is no Docker engine in CI, so the file is
checked against the Compose Specification's JSON schema (vendored by check-jsonschema, no
download) and its values are resolved the way Compose resolves them."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import BASE_DIR
from tests.test_deploy import PRODUCTION_ENV, manage

COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: str, env: dict) -> str:
    """`${VAR:-default}` as Compose resolves it for a user whose .env leaves VAR unset."""
    return INTERPOLATION.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), str(value))


def test_the_compose_file_follows_the_compose_specification():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_graphiql_and_introspection_are_off_in_compose_unless_asked_for():
    web_env = compose()["services"]["web"]["environment"]
    graphql_env = {key: value for key, value in web_env.items() if key.startswith("GRAPHQL_")}
    resolved = {key: interpolate(value, {}) for key, value in graphql_env.items()}
    show = ("shell", "-c", "from django.conf import settings; "
            "print(settings.GRAPHQL_GRAPHIQL, settings.GRAPHQL_INTROSPECTION)")
    result = manage(*show, env={**PRODUCTION_ENV, **resolved})
    assert result.stdout.split()[-2:] == ["False", "False"], result.stdout + result.stderr
    asked = {key: interpolate(value, {key: "1"}) for key, value in graphql_env.items()}
    assert manage(*show, env={**PRODUCTION_ENV, **asked}).stdout.split()[-2:] == ["True", "True"]


def run_flower_command(tmp_path, basic_auth: str) -> subprocess.CompletedProcess:
    """The flower service's own command, with a stand-in `celery` that says it started."""
    fake_celery = tmp_path / "celery"
    fake_celery.write_text('#!/bin/sh\necho "started: $*"\n')
    fake_celery.chmod(fake_celery.stat().st_mode | stat.S_IEXEC)
    command = [part.replace("$$", "$") for part in compose()["services"]["flower"]["command"]]
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
           "FLOWER_BASIC_AUTH": basic_auth}
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_flower_does_not_start_without_basic_auth(tmp_path):
    for missing in ("", "admin", "admin:", ":secret"):
        refused = run_flower_command(tmp_path, missing)
        assert refused.returncode != 0, missing
        assert "FLOWER_BASIC_AUTH" in refused.stderr and "started" not in refused.stdout
    started = run_flower_command(tmp_path, "admin:secret")
    assert started.returncode == 0 and started.stdout.strip() == "started: flower"
    assert compose()["services"]["flower"]["ports"] == ["127.0.0.1:5555:5555"]
