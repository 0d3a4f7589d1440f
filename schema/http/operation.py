"""The GraphQL-over-HTTP request and answer, as the spec (graphql.github.io/graphql-over-http)
has them: the request's parameters, from a POST body or a GET query string, checked before
anything runs; the answer's media type, negotiated from `Accept`; and its status.

Two media types are answered:
- `application/graphql-response+json`, when the client asks for it (`Accept` names it, at a
  quality no lower than `application/json`'s): a request that never executed (a document that
  does not parse or validate, variables that do not coerce) is a 400 with no `data` entry;
- `application/json` otherwise (no `Accept`, `*/*`, or it asks for nothing we have: the
  spec's "disregard the header" choice, so no existing client gets a 406): such a request is
  a 200 with `data: null`, as every GraphQL client written before the spec expects.
"""

from urllib.parse import parse_qsl

from strawberry.types.graphql import OperationType

from ..errors import EdgeError, ErrorCode
from .multipart import load_json

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
GET_ALLOWS = "POST"
METHOD_OPERATIONS = {
    # A GET is safe by definition (a link, a prefetch, a cache may send it): it never writes.
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}
# The GET parameters that carry JSON, URL-encoded (the spec's "variables" and "extensions").
GET_JSON_PARAMETERS = ("variables", "extensions")
MAX_GET_PARAMETERS = 16


def media_ranges(accept: str):
    """`Accept`'s media ranges as (type, quality); a malformed quality counts as 0."""
    for part in accept.split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type:
            yield media_type.lower(), quality


def quality_of(media_type: str, ranges: list[tuple[str, float]]) -> tuple[float, bool]:
    """The quality `Accept` gives `media_type` (its most specific range decides) and whether
    the client named it rather than a wildcard."""
    kind = media_type.split("/")[0]
    best = None
    for candidate, quality in ranges:
        specificity = {media_type: 3, f"{kind}/*": 2, "*/*": 1}.get(candidate)
        if specificity and (best is None or specificity > best[0]):
            best = (specificity, quality)
    return (best[1], best[0] == 3) if best else (0.0, False)


def negotiate(accept: str | None) -> str:
    """The media type of the answer: `application/graphql-response+json` only when the client
    names it and prefers it at least as much as `application/json`."""
    if not accept:
        return JSON
    ranges = list(media_ranges(accept))
    response_quality, named = quality_of(GRAPHQL_RESPONSE, ranges)
    json_quality, _ = quality_of(JSON, ranges)
    if named and response_quality > 0 and response_quality >= json_quality:
        return GRAPHQL_RESPONSE
    return JSON


def from_query_string(query_string: bytes) -> dict:
    """A GET's operation: `query` and `operationName` as they are, `variables` and
    `extensions` as URL-encoded JSON. A parameter given twice is refused, not guessed at."""
    operation: dict = {}
    try:
        pairs = parse_qsl(
            query_string.decode("utf-8", "replace"),
            keep_blank_values=True,
            errors="replace",
            max_num_fields=MAX_GET_PARAMETERS,
        )
    except ValueError:  # more parameters than an operation has
        raise EdgeError("Too many query parameters.", ErrorCode.BAD_REQUEST) from None
    for name, value in pairs:
        if name in operation:
            raise EdgeError(f"The parameter `{name}` is given twice.", ErrorCode.BAD_REQUEST)
        if name in GET_JSON_PARAMETERS:
            operation[name] = load_json(value.encode(), f"`{name}`", ErrorCode.BAD_REQUEST)
        else:
            operation[name] = value
    return operation


def checked(operation) -> dict:
    """The operation's parameters, each of the type the spec gives it, or a 400."""
    if not isinstance(operation, dict):
        raise EdgeError(
            "Send one GraphQL operation as a JSON object (batches are not supported).",
            ErrorCode.BAD_REQUEST,
        )
    wrong = [
        f"`{name}` must be {what}"
        for name, kind, what in (
            ("query", str, "a string"),
            ("operationName", str, "a string"),
            ("variables", dict, "an object"),
            ("extensions", dict, "an object"),
        )
        if not isinstance(operation.get(name), kind | None)
    ]
    if wrong:
        raise EdgeError(" and ".join(wrong) + ".", ErrorCode.BAD_REQUEST)
    return operation


def mutation_over_get() -> EdgeError:
    return EdgeError(
        "Mutations are sent with POST: a GET never changes anything.",
        ErrorCode.BAD_REQUEST,
        status=405,
        headers={"Allow": GET_ALLOWS},
    )


def never_executed(body: dict) -> bool:
    """A request error in the spec's words: nothing was executed (the document did not parse
    or validate, the variables did not coerce), so no error has a path and there is no data."""
    errors = body.get("errors")
    return bool(errors) and body.get("data") is None and all("path" not in e for e in errors)


def status_of(body: dict, media_type: str) -> tuple[int, dict]:
    """The status of an executed operation's answer, and its body for `media_type`."""
    if media_type != GRAPHQL_RESPONSE or not never_executed(body):
        return 200, body
    codes = {(error.get("extensions") or {}).get("code") for error in body["errors"]}
    status = 500 if ErrorCode.INTERNAL_SERVER_ERROR in codes else 400
    return status, {key: value for key, value in body.items() if key != "data"}
