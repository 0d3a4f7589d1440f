"""Settings of the reference service: Django's startproject defaults, plus the environment."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "bench-reference-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "bench.reference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bench.reference.urls"
WSGI_APPLICATION = "bench.reference.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("REFERENCE_DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/filesvc_bench_reference",
        # One sync worker, one thread: a persistent connection is the usual production
        # setting and spares the reference a connect per request.
        conn_max_age=600,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"

MEDIA_ROOT = Path(os.environ.get("REFERENCE_MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"

CELERY_BROKER_URL = os.environ.get("REFERENCE_REDIS_URL") or "redis://127.0.0.1:6379/2"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
