import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reference.settings")
application = get_wsgi_application()

# The usual `from .celery import app` of a project's __init__.py, done here so the bare ASGI
# app next door does not load Celery: without it `.delay()` would use Celery's default app
# (and broker, amqp://localhost), not this project's Redis.
from .celery import app as celery_app  # noqa: E402, F401
