"""Test settings: the real settings, plus what the suite needs to be self-contained.

Environment variables set here are inherited by the servers and Celery workers the tests
start as subprocesses, so they all share one database, Redis, channel prefix and media dir.
"""

import os
import secrets
import socket
import tempfile
import uuid
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


os.environ.setdefault("SECRET_KEY", "tests-only-" + secrets.token_urlsafe(50))
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="filesvc-media-"))
# One prefix per run: a shared Redis (CI's) never mixes this run's events with another's.
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"filesvc-test-{uuid.uuid4().hex[:8]}")

if not os.environ.get("REDIS_URL"):
    from tools.embedded_redis import redis_url_for, start_embedded_redis

    _port = free_port()
    EMBEDDED_REDIS = start_embedded_redis(
        port=_port, data_dir=Path(tempfile.mkdtemp(prefix="filesvc-redis-"))
    )
    os.environ["REDIS_URL"] = redis_url_for(_port)

from project.settings import *  # noqa: E402,F403
from project.settings import DATABASES, STATIC_ROOT, VAR_DIR  # noqa: E402

STATIC_ROOT.mkdir(parents=True, exist_ok=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the servers and workers the tests start must see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

# In-process requests (tests/conftest.py: asgi_request) run their database work on the test's
# own thread, inside its transaction. Servers the tests start keep the default pool.
DATABASE_THREADS = 0
