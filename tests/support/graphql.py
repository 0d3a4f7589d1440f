"""GraphQL over HTTP for tests: in-process through the real ASGI application (the same routing
and endpoint uvicorn serves), as JSON or as GraphQL multipart requests."""

import json
import urllib.parse

import httpx
from asgiref.sync import async_to_sync


def asgi_request(method: str, path: str, **kwargs) -> httpx.Response:
    """One request through the real ASGI application, in-process: the same routing and
    GraphQL endpoint uvicorn serves. Its blocking work runs on this thread (asgiref's
    thread-sensitive rule), so it shares the test's database connection and transaction."""
    from project.asgi import application

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.request(method, path, **kwargs)

    return async_to_sync(send)()


BOUNDARY = "test-boundary-7MA4YWxkTrZu0gW"


def multipart_body(parts: list[tuple]) -> tuple[bytes, str]:
    """(body, content type) of a multipart request with exactly these parts, in this order:
    (name, value) for a field, (name, bytes, file name) for a file."""
    body = bytearray()
    for name, value, *filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename[0]}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value.encode() if isinstance(value, str) else value
        body += b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={BOUNDARY}"


class GraphQL:
    """GraphQL over HTTP through the real endpoint; sends the Django test client's cookies
    (a `client.force_login` session) and, with a token, `Authorization: Bearer`."""

    def __init__(self, client, token=None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def sent_headers(self, headers: dict | None) -> dict:
        cookies = "; ".join(f"{key}={morsel.value}" for key, morsel in self.client.cookies.items())
        return {**self.headers, **({"Cookie": cookies} if cookies else {}), **(headers or {})}

    def post(self, headers: dict | None = None, **kwargs) -> httpx.Response:
        return asgi_request("POST", "/graphql/", headers=self.sent_headers(headers), **kwargs)

    def get(self, params, headers: dict | None = None) -> httpx.Response:
        """GraphQL over GET: `params` (a dict, or pairs) as the query string."""
        query_string = urllib.parse.urlencode(params)
        return asgi_request("GET", f"/graphql/?{query_string}", headers=self.sent_headers(headers))

    def __call__(self, query: str, **variables):
        return self.post(json={"query": query, "variables": variables}).json()

    def upload(
        self,
        query: str,
        files: dict,
        variables: dict,
        file_map: dict | None = None,
        headers: dict | None = None,
    ):
        """A GraphQL multipart request: `files` maps part names to (name, bytes)."""
        data = {
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps(
                file_map
                if file_map is not None
                else {part: [f"variables.{part}"] for part in files}
            ),
        }
        return self.post(data=data, files=files, headers=headers)

    def multipart(self, parts: list[tuple]) -> httpx.Response:
        body, content_type = multipart_body(parts)
        return self.post(content=body, headers={"Content-Type": content_type})
