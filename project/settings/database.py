"""The database: one URL, kept connections, SQLite's local-run tuning, query metrics."""

import os
from pathlib import Path

import dj_database_url

from project.settings.env import VAR_DIR, env_bool, env_int

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        # Kept by the GraphQL endpoint's database thread and by Celery workers; the page,
        # downloads and the admin close theirs after each request (schema/http/asgi.py).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker are separate processes: WAL lets readers proceed while one writes, and
    # the timeout makes a writer wait for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# Threads that run the GraphQL endpoint's blocking work (database, storage), each with a kept
# connection (plus one for websocket subscriptions, docs/operations.md, "Database connections").
# 0: asgiref's one shared thread.
DATABASE_THREADS = env_int("DATABASE_THREADS", 4)

# PostgreSQL through django-prometheus' instrumented backend: queries, their duration, errors
# and new connections as `django_db_*` metrics (a few microseconds a query). 0 turns it off.
# Here rather than with the other metrics (observability.py): it chooses the engine.
DATABASE_METRICS = env_bool("DATABASE_METRICS", True)
if DATABASE_METRICS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
