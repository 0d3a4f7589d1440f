"""A pytest plugin (pytest.ini: `-p tests.support.redis_plugin`): an embedded Redis for a run
on a machine without one, started before Django's settings are read, stopped at the end.

Where REDIS_URL is set (CI, a developer's own Redis) it does nothing. Starting it here, not in
tests/settings.py, keeps importing the settings free of side effects."""

import os
import tempfile
from pathlib import Path

import pytest

EMBEDDED_KEY = pytest.StashKey[object]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Before pytest-django's own hook, which imports tests/settings.py."""
    if os.environ.get("REDIS_URL"):
        return
    from tools.embedded_redis import redis_url_for, start_embedded_redis
    from tools.processes import free_port

    port = free_port()
    server = start_embedded_redis(
        port=port, data_dir=Path(tempfile.mkdtemp(prefix="filesvc-redis-"))
    )
    early_config.stash[EMBEDDED_KEY] = server
    os.environ["REDIS_URL"] = redis_url_for(port)


def pytest_unconfigure(config):
    server = config.stash.get(EMBEDDED_KEY, None)
    if server is not None:
        from tools.embedded_redis import stop_embedded_redis

        stop_embedded_redis(server)
