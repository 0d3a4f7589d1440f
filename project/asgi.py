"""ASGI entry point: `uvicorn project.asgi:application` (or daphne).

HTTP: POST /graphql/ goes to the streaming GraphQL endpoint, the probes and /metrics to
schema/http/probes.py, the rest to Django (schema/http/asgi.py). Every request and websocket gets a
request id first (schema/observability.py). Websockets go to Strawberry's consumer,
authenticated (schema/live/websocket.py), at /graphql/ or /graphql.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the imports below

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from schema.graphql.api import schema  # noqa: E402
from schema.http.asgi import API_PATH, API_PATH_UNSLASHED, http_application, lifespan  # noqa: E402
from schema.live.websocket import graphql_ws_consumer  # noqa: E402
from schema.observability import with_request_id  # noqa: E402

graphql_ws = graphql_ws_consumer(schema)
application = with_request_id(
    ProtocolTypeRouter(
        {
            "http": http_application(django_asgi_app, schema),
            "lifespan": lifespan,
            # No session or auth middleware, not even Channels' CookieMiddleware: the consumer
            # reads the session cookie or a token and sets the user itself
            # (schema/live/websocket.py). The middleware would load the user at connect for
            # nothing, wrap every frame sent (a tenth of the work per event delivered) and keep
            # a copy of the scope per connection (docs/live-connection-cost.md).
            "websocket": URLRouter(
                [
                    path(API_PATH.lstrip("/"), graphql_ws),
                    path(API_PATH_UNSLASHED.lstrip("/"), graphql_ws),
                    # Any other path: refused at the handshake (403), not a 500.
                    re_path("", WebsocketDenier.as_asgi()),
                ]
            ),
        }
    )
)
