"""Django itself: debug mode, the apps, the middleware chain, templates, auth and locale."""

from project.settings.env import BASE_DIR, env_bool

DEBUG = env_bool("DEBUG", False)

INSTALLED_APPS = [
    "daphne",  # gives `manage.py runserver` an ASGI server; uvicorn is the default server
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",  # login throttling (project/settings/security.py)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",  # before staticfiles: `runserver` leaves static files to it
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",  # request metrics of the routes Django serves (docs/operations.md)
    "strawberry_django",
    "files_app",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every page Django serves that sets none itself.
    "schema.http.middleware.content_security_policy",
    # A view that finds the database down answers 503 + Retry-After, not 500.
    "schema.http.middleware.DatabaseUnavailableMiddleware",
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

ROOT_URLCONF = "schema.http.urls"
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
