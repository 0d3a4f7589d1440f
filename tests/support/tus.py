"""tus 1.0 requests through the real ASGI application, in-process (tests/support/graphql.py's
asgi_request): a creation, and a PATCH at an offset."""

import base64

from tests.support.graphql import asgi_request

TUS = {"Tus-Resumable": "1.0.0"}
STREAM = "application/offset+octet-stream"


def bearer(token) -> dict:
    return {**TUS, "Authorization": f"Bearer {token}"}


def create(token, size: int, name: str = "notes.txt"):
    encoded = base64.b64encode(name.encode()).decode()
    return asgi_request(
        "POST",
        "/tus/",
        headers={
            **bearer(token),
            "Upload-Length": str(size),
            "Upload-Metadata": f"filename {encoded}",
        },
    )


def patch(url, token, offset, body):
    return asgi_request(
        "PATCH",
        url,
        content=body,
        headers={**bearer(token), "Upload-Offset": str(offset), "Content-Type": STREAM},
    )
