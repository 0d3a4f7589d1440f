"""Test settings: the real settings, plus what the suite needs to be self-contained.

Environment variables set here are inherited by the servers and Celery workers the tests
start as subprocesses, so they all share one database, Redis, channel prefix and media dir.
Where REDIS_URL is unset, tests/support/redis_plugin.py has started an embedded Redis and set
it before this module is imported; importing it starts nothing.
"""

import os
import secrets
import tempfile
import uuid

os.environ.setdefault("SECRET_KEY", "tests-only-" + secrets.token_urlsafe(50))
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="filesvc-media-"))
# One prefix per run: a shared Redis (CI's) never mixes this run's events with another's.
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"filesvc-test-{uuid.uuid4().hex[:8]}")

from django.conf import global_settings as django_global_settings

from project.settings import *  # noqa: F403
from project.settings import DATABASES, STATIC_ROOT, VAR_DIR

STATIC_ROOT.mkdir(parents=True, exist_ok=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the servers and workers the tests start must see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

# One PBKDF2 iteration for the passwords the tests set (tests/support/users.py); the
# project's hashers after it, for any hash it meets.
PASSWORD_HASHERS = [
    "tests.support.users.QuickPBKDF2PasswordHasher",
    *django_global_settings.PASSWORD_HASHERS,
]

# In-process requests (tests/support/graphql.py: asgi_request) run their database work on the
# test's own thread, inside its transaction. Servers the tests start keep the default pool.
DATABASE_THREADS = 0
