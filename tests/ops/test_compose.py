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

from tests.support.deploy import PRODUCTION_ENV, manage
from tests.support.processes import BASE_DIR
from tests.support.proxy import (
    proxy_body_limit,
    rendered_template,
    require_nginx,
    write_config,
)
from tools.processes import NGINX

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
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_graphiql_and_introspection_are_off_in_compose_unless_asked_for():
    web_env = compose()["services"]["web"]["environment"]
    graphql_env = {key: value for key, value in web_env.items() if key.startswith("GRAPHQL_")}
    resolved = {key: interpolate(value, {}) for key, value in graphql_env.items()}
    show = (
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.GRAPHQL_GRAPHIQL, settings.GRAPHQL_INTROSPECTION)",
    )
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
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "FLOWER_BASIC_AUTH": basic_auth}
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_flower_does_not_start_without_basic_auth(tmp_path):
    for missing in ("", "admin", "admin:", ":secret"):
        refused = run_flower_command(tmp_path, missing)
        assert refused.returncode != 0, missing
        assert "FLOWER_BASIC_AUTH" in refused.stderr and "started" not in refused.stdout
    started = run_flower_command(tmp_path, "admin:secret")
    assert started.returncode == 0 and started.stdout.strip() == "started: flower"
    assert compose()["services"]["flower"]["ports"] == ["127.0.0.1:5555:5555"]


# --- scaling out behind the proxy (docs/operations.md, "Scaling") ----------------------


def test_web_and_workers_scale_behind_the_proxy():
    """`docker compose up --scale web=2 --scale worker=3`: no replica binds a host port (two
    would collide), the proxy is the one entry point, and static files are collected into
    the volume the proxy serves."""
    services = compose()["services"]
    for name in ("web", "worker"):
        assert "ports" not in services[name] and "container_name" not in services[name], name
    assert services["proxy"]["ports"] == ["${PROXY_PORT:-8000}:8000"]
    # uvicorn believes X-Forwarded-For from the `edge` network alone: the proxy and web.
    edge = compose()["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert services["web"]["environment"]["FORWARDED_ALLOW_IPS"] == edge
    on_edge = {name for name, service in services.items() if "edge" in service.get("networks", ())}
    assert on_edge == {"web", "proxy"} and services["proxy"]["networks"] == ["edge"]
    assert "collectstatic" in " ".join(services["migrate"]["command"])
    assert "static:/data/static" in services["migrate"]["volumes"]
    assert "static:/srv/static:ro" in services["proxy"]["volumes"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert {services[s]["profiles"][0] for s in ("minio", "minio-bucket")} == {"s3"}


def test_minio_urls_handed_to_browsers_name_the_public_endpoint():
    """Inside compose MinIO is `minio:9000`, which no browser resolves: the web processes
    sign the URLs they hand out (downloads, direct uploads) for AWS_S3_PUBLIC_ENDPOINT_URL,
    and MinIO lets the page post to it from the proxy's origin."""
    services = compose()["services"]
    web_env = services["web"]["environment"]
    public = interpolate(
        web_env["AWS_S3_PUBLIC_ENDPOINT_URL"],
        {"AWS_S3_PUBLIC_ENDPOINT_URL": "http://localhost:9000"},
    )
    assert public == "http://localhost:9000"
    assert "127.0.0.1:9000:9000" in services["minio"]["ports"]
    cors = interpolate(services["minio"]["environment"]["MINIO_API_CORS_ALLOW_ORIGIN"], {})
    assert cors == "http://localhost:8000"


def test_the_proxy_body_limit_is_the_apps_largest_request():
    from schema.http.ingress import UploadLimits

    for size, files in ((1024**3, 20), (10 * 1024**2, 3)):
        limit = proxy_body_limit(
            {"MAX_UPLOAD_SIZE": str(size), "MAX_FILES_PER_REQUEST": str(files)}
        )
        largest = UploadLimits(
            max_file_size=size, max_files=files, max_fields_size=2 * 1024**2
        ).max_request_size
        assert largest <= limit <= largest + 4 * 1024**2, (size, files, limit, largest)
    proxy_env = compose()["services"]["proxy"]["environment"]
    defaults = {key: interpolate(value, {}) for key, value in proxy_env.items()}
    assert proxy_body_limit(defaults) == 20 * 1024**3 + 4 * 1024**2


def test_the_proxy_config_is_valid_nginx(tmp_path):
    """`nginx -t` on the rendered template (tests/ops/test_proxy.py runs it)."""
    require_nginx()
    rendered = rendered_template()
    for directive in (
        "proxy_request_buffering off;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "location /static/",
    ):
        assert directive in rendered, directive
    config = write_config(tmp_path, rendered)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
