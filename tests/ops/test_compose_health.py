"""docker-compose.yml's healthchecks run under both engines: podman sets no HOSTNAME in a
healthcheck or a `podman exec`, where Docker does."""

import os
import socket
import stat
import subprocess

import yaml

from tests.support.processes import BASE_DIR


def healthcheck_shell(service: str) -> str:
    """A CMD-SHELL healthcheck's command as the container's shell receives it."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    kind, command = compose["services"][service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    return command.replace("$$", "$")


def test_the_workers_healthcheck_pings_its_own_worker_without_hostname_set(tmp_path):
    """Celery names a worker celery@<hostname>: the check must name it without $HOSTNAME."""
    fake_celery = tmp_path / "celery"
    fake_celery.write_text('#!/bin/sh\necho "$@"\n')
    fake_celery.chmod(fake_celery.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k != "HOSTNAME"}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["sh", "-c", healthcheck_shell("worker")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    arguments = result.stdout.split()
    assert arguments[:4] == ["-A", "project", "inspect", "ping"], arguments
    assert arguments[arguments.index("-d") + 1] == f"celery@{socket.gethostname()}"
