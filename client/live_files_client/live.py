"""Live updates over the `fileUpdates` subscription (graphql-transport-ws at /graphql/, the
token in `connection_init`), through gql's websockets transport.

Waiting for files subscribes with their ids: the server sends each one's current state
first, then its changes, so nothing that happened before the subscription is missed and no
query is needed beside it."""

import asyncio
from collections.abc import Callable
from contextlib import aclosing

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from . import documents
from .api import Server
from .errors import ClientError, Exit, from_graphql, websocket_closed

FINISHED = ("DONE", "FAILED")
CONNECT_TIMEOUT_SECONDS = 10


def transport(server: Server) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=server.websocket,
        init_payload={"Authorization": f"Bearer {server.token}"},
        headers={"User-Agent": server.headers["User-Agent"]},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        ack_timeout=CONNECT_TIMEOUT_SECONDS,
    )


async def updates(server: Server, ids: list[str] | None):
    """Every `fileUpdates` event, as a file dict; errors as ClientErrors."""
    variables = {"ids": ids} if ids is not None else {}
    try:
        async with Client(transport=transport(server)) as session:
            request = GraphQLRequest(documents.FILE_UPDATES, variable_values=variables)
            async for result in session.subscribe(request):
                yield result["fileUpdates"]
    except TransportQueryError as error:
        raise from_graphql(error.errors or []) from None
    except (TransportError, OSError, asyncio.TimeoutError) as error:
        raise websocket_closed(error, server.websocket) from None
    raise ClientError("the server ended the subscription", exit=Exit.RETRY_LATER)


async def wait(
    server: Server,
    ids: list[str],
    *,
    on_update: Callable[[dict], None],
    timeout: float | None,
) -> dict[str, dict]:
    """Each file's last state once every one is DONE or FAILED (or deleted)."""
    latest: dict[str, dict] = {}
    try:
        async with asyncio.timeout(timeout), aclosing(updates(server, ids)) as stream:
            async for file in stream:
                latest[file["id"]] = file
                on_update(file)
                if all(finished(latest.get(file_id)) for file_id in ids):
                    return latest
    except TimeoutError:
        pending = [file_id for file_id in ids if not finished(latest.get(file_id))]
        raise ClientError(
            f"{len(pending)} file(s) still not DONE or FAILED after {timeout:g} s: "
            + " ".join(pending),
            exit=Exit.RETRY_LATER,
        ) from None
    raise AssertionError("unreachable: updates() ends only by raising")


def finished(file: dict | None) -> bool:
    return file is not None and (file["status"] in FINISHED or bool(file.get("deleted")))


async def watch(server: Server, ids: list[str] | None, emit: Callable[[dict], None]) -> None:
    async with aclosing(updates(server, ids)) as stream:
        async for file in stream:
            emit(file)
