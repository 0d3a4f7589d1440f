"""The compose proxy (deploy/nginx.conf.template) as the tests run it: rendered the way the
nginx image's entrypoint renders it, with only what names the compose network changed (the
upstream `web:8000`, the port it listens on), and started with Debian's nginx through the
process harness."""

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from tools.processes import BASE_DIR, NGINX, HttpServer, free_port, nginx_command

DEPLOY = BASE_DIR / "deploy"
TEMPLATE = DEPLOY / "nginx.conf.template"


def require_nginx() -> None:
    if not Path(NGINX).exists():
        pytest.skip(f"{NGINX} is not installed (apt-get install nginx-light)")


def proxy_body_limit(env: dict) -> int:
    """NGINX_MAX_BODY_SIZE as the proxy's entrypoint computes it (deploy/*.envsh, sourced)."""
    result = subprocess.run(
        ["sh", "-c", f". {DEPLOY / '10-max-body-size.envsh'}; echo $NGINX_MAX_BODY_SIZE"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


def rendered_template(*, upstream: str = "127.0.0.1:8000", listen: str = "8000") -> str:
    """The template with the entrypoint's variables filled in (compose's defaults), `web:8000`
    (which resolves only on the compose network) replaced by `upstream`."""
    rendered = TEMPLATE.read_text().replace("${NGINX_MAX_BODY_SIZE}", str(proxy_body_limit({})))
    assert "${" not in rendered, "a template variable was left unfilled"
    for text, replacement in (
        ("server web:8000;", f"server {upstream};"),
        ("listen 8000;", f"listen {listen};"),
    ):
        assert rendered.count(text) == 1, text
        rendered = rendered.replace(text, replacement)
    return rendered


def write_config(folder: Path, server_block: str) -> Path:
    """nginx.conf as the image's (the rendered file included in `http`), everything nginx
    writes kept in `folder`; as root its workers run as root, so they may write there."""
    (folder / "default.conf").write_text(server_block)
    user = pwd.getpwuid(os.geteuid()).pw_name
    temp_paths = "".join(
        f"  {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = folder / "nginx.conf"
    config.write_text(
        (f"user {user};\n" if os.geteuid() == 0 else "")
        + f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{\n  access_log {folder / 'access.log'};\n{temp_paths}"
        + f"  include {folder / 'default.conf'};\n}}\n"
    )
    return config


class Proxy(HttpServer):
    """The shipped proxy configuration on a free port of 127.0.0.1 (never 80: the tests see
    whether the port survives), in front of `upstream_port`; ready once it passes /healthz on."""

    def __init__(self, folder: Path, upstream_port: int):
        port = free_port()
        self.folder = folder
        config = write_config(
            folder,
            rendered_template(upstream=f"127.0.0.1:{upstream_port}", listen=f"127.0.0.1:{port}"),
        )
        super().__init__(
            nginx_command(prefix=folder, config=config),
            folder / "nginx.log",
            port=port,
            ready_path="/healthz",
            ready_status=200,
            name=f"nginx-{port}",
        )

    def log_tail(self, chars: int = 4000) -> str:
        error_log = self.folder / "error.log"
        errors = error_log.read_text(errors="replace")[-chars:] if error_log.exists() else ""
        return super().log_tail(chars) + errors
