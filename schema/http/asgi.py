"""The HTTP side of the web process: POST /graphql/ and GET /graphql/?query=… to our own
endpoint (schema/http/endpoint.py), the probes and /metrics to schema/http/probes.py, /tus/ to the
resumable uploads (schema/http/tus.py), everything else (the page, downloads, GraphiQL, the
admin, static files) to Django; every request body, whoever reads it, at a pace or the client
is dropped (schema/http/pacing.py)."""

import asyncio
from urllib.parse import unquote_plus

from django.core.signals import request_finished

from .endpoint import GraphQLEndpoint
from .pacing import paced
from .probes import PROBE_PATHS, probe
from .transport import idle_connections
from .tus import TUS_PATH, TusEndpoint

API_PATH = "/graphql/"
# Apollo and most clients default to no trailing slash. Django would answer a POST there
# with a 500 (APPEND_SLASH can't redirect a body): the same request, at API_PATH.
API_PATH_UNSLASHED = API_PATH.rstrip("/")


def close_request_connections(**kwargs) -> None:
    """Django's ASGI handler runs each request's blocking code in a thread of its own, which
    ends with the request: a connection kept there (CONN_MAX_AGE) would never be used again,
    and never closed. The GraphQL endpoint's kept connection lives in another thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        for connection in idle_connections():
            connection.close()
    # Else an event loop's own thread (the in-process test client closes a streamed response
    # there): its connections are no request thread's, and closing them there is refused.


def http_application(django_app, schema):
    endpoint = GraphQLEndpoint(schema)
    tus = TusEndpoint()
    request_finished.connect(close_request_connections, dispatch_uid="schema.http.asgi.close")

    async def application(scope, receive, send):
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        if path == API_PATH_UNSLASHED:
            scope, path = with_api_path(scope), API_PATH
        if path == API_PATH and is_operation(scope):
            await endpoint(scope, receive, send)
        elif path in PROBE_PATHS:
            await probe(scope, receive, send, path)
        elif path.startswith(TUS_PATH):
            await tus(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return paced(application)


def is_operation(scope) -> bool:
    """A POST, or a GET carrying a `query` parameter: GraphQL over HTTP. A GET without one
    is a browser opening GraphiQL, which Django serves."""
    if scope["method"] == "POST":
        return True
    if scope["method"] != "GET":
        return False
    names = (pair.partition(b"=")[0] for pair in scope.get("query_string", b"").split(b"&"))
    return any(unquote_plus(name.decode("latin-1")) == "query" for name in names)


def with_api_path(scope) -> dict:
    """`/graphql` served as `/graphql/` (every method: POST to the endpoint, GET GraphiQL)."""
    scope = {**scope, "path": scope["path"] + "/"}
    if scope.get("raw_path"):
        scope["raw_path"] += b"/"
    return scope


async def lifespan(scope, receive, send):
    """uvicorn's startup and shutdown messages: nothing to set up, but answered, so uvicorn
    does not log that the application lacks lifespan support (Channels' router has none)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
