"""The big-upload reference: the least an ASGI app can do with an upload.

    uvicorn bench.reference.bare_asgi:app

One async function: a POST's body is streamed, chunk by chunk as the server hands it over,
to a new file in MEDIA_ROOT with plain write() through a 1 MiB buffer and no fsync (the
service's flush behaviour), and the answer is its size. Any other request gets a 200, so
the bench can tell the server is up. Served by the same server (uvicorn, daphne) as the
service in the same run, it is the "same-disk copy" the service's big-upload throughput and
memory are compared with.

A websocket is held open doing the least of graphql-transport-ws (`connection_init` is
answered with `connection_ack`, the rest ignored): the floor a subscription's memory is
compared with (bench/watchers.py).
"""

import json
import os
import uuid
from pathlib import Path

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or "media")
WRITE_BUFFER_SIZE = 1024 * 1024


async def respond(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def hold_websocket(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        elif message["type"] == "websocket.disconnect":
            return
        elif '"connection_init"' in (message.get("text") or ""):
            await send({"type": "websocket.send", "text": '{"type": "connection_ack"}'})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await hold_websocket(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":
        await respond(send, 200, {"bare": True})
        return
    MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    path = MEDIA_ROOT / f"bare-{uuid.uuid4().hex}"
    size = 0
    with path.open("wb", buffering=WRITE_BUFFER_SIZE) as out:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            out.write(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
    await respond(send, 200, {"path": path.name, "size": size})
