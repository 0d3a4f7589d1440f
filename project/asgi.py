"""ASGI entry point: `uvicorn project.asgi:application` (or daphne).

HTTP goes through Django's own ASGI handler, so middleware (sessions, CSRF, bearer tokens)
applies and Django's multipart parser streams uploads to temporary files; Strawberry's
Channels HTTP consumer would buffer whole bodies in memory and skip all of that. Only
websockets go to Strawberry's consumer.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from schema.schema import schema  # noqa: E402
from schema.websocket import graphql_ws_consumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(
            URLRouter([path("graphql/", graphql_ws_consumer(schema))])
        ),
    }
)
