"""The server: where its endpoints are, who is asking, and GraphQL over HTTP through gql, every
refusal turned into a ClientError carrying the server's code, HTTP status and Retry-After."""

import dataclasses
from urllib.parse import urlsplit

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXTransport

from . import __version__
from .errors import ClientError, Exit, from_graphql, unreachable

USER_AGENT = f"live-files/{__version__}"
# An answer to a query comes within this; an upload's bytes may take as long as they need,
# each write and read of them bounded by it.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclasses.dataclass(frozen=True)
class Server:
    """`base` is what LIVE_FILES_URL names: `scheme://host[:port]` and any path prefix the
    service is mounted under (a `/graphql/` at its end is taken off)."""

    base: str
    token: str

    @classmethod
    def configured(cls, url: str | None, token: str | None) -> "Server":
        if not url:
            raise ClientError(
                "no server: set LIVE_FILES_URL or pass --url (e.g. http://127.0.0.1:8000)",
                exit=Exit.USAGE,
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ClientError(
                f"the server URL must be http(s)://host[:port], not {url!r}", exit=Exit.USAGE
            )
        if not token:
            raise ClientError(
                "no token: set LIVE_FILES_TOKEN or pass --token "
                "(`make token USER=<name>` or `manage.py create_api_token` prints one)",
                exit=Exit.USAGE,
            )
        path = parts.path.rstrip("/").removesuffix("/graphql")
        return cls(base=f"{parts.scheme}://{parts.netloc}{path}", token=token.strip())

    @property
    def graphql(self) -> str:
        return f"{self.base}/graphql/"

    @property
    def tus(self) -> str:
        return f"{self.base}/tus/"

    @property
    def websocket(self) -> str:
        return "ws" + self.graphql.removeprefix("http")  # http→ws, https→wss

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}


class Api:
    """GraphQL queries and mutations over HTTP (gql's httpx transport), one connection kept
    for the command's life. Use as a context manager."""

    def __init__(self, server: Server):
        self.server = server
        self.answer: httpx.Response | None = None  # the last one, for its status and headers
        self.transport = HTTPXTransport(
            url=server.graphql,
            headers=server.headers,
            timeout=TIMEOUT,
            event_hooks={"response": [self.remember]},
        )
        self.client = Client(transport=self.transport)
        self.session = None

    def remember(self, response: httpx.Response) -> None:
        self.answer = response

    def __enter__(self) -> "Api":
        self.session = self.client.connect_sync()
        return self

    def __exit__(self, *exc_info) -> None:
        self.client.close_sync()

    def execute(self, document: str, variables: dict | None = None, *, upload=False) -> dict:
        """The operation's `data`; its error as a ClientError."""
        self.answer = None
        request = GraphQLRequest(document, variable_values=variables or {})
        try:
            return self.session.execute(request, upload_files=upload)
        except TransportQueryError as error:
            raise from_graphql(error.errors or [], *self.answered()) from None
        except TransportServerError as error:  # an error status without a GraphQL body
            status, retry_after = self.answered()
            raise ClientError(
                f"the server answered HTTP {error.code or status}",
                status=error.code or status,
                retry_after=retry_after,
            ) from None
        except TransportProtocolError:
            raise ClientError(
                f"{self.server.graphql} did not answer as a live-files GraphQL endpoint "
                "(is LIVE_FILES_URL the service's address?)"
            ) from None
        except TransportConnectionFailed as error:
            raise unreachable(self.server.graphql, error.__cause__ or error) from None

    def answered(self) -> tuple[int | None, str | None]:
        """The last answer's status, when it was an error status, and its Retry-After."""
        if self.answer is None or self.answer.status_code < 400:
            return None, None
        return self.answer.status_code, self.answer.headers.get("Retry-After")
