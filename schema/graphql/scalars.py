"""Scalars shared by the types and the per-kind results, and the `Upload` scalar's checks."""

from typing import NewType

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload

from files_app.exceptions import InvalidUpload
from files_app.numbers import parse_digits

# The spec the `Upload` scalar and the multipart ingress (schema/http/ingress.py) follow.
MULTIPART_SPEC = "https://github.com/jaydenseric/graphql-multipart-request-spec"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BIG_INT_REFUSED = "BigInt takes a whole 64-bit number: a JSON number, or a string of digits 0-9."


def big_int_value(value) -> int:
    """A variable's BigInt. int() would take `" 12 "`, `True` and `1.5` (as 1), and raise
    for `"²"` (a 500 elsewhere): a whole number is taken, or a string of ASCII digits for
    clients without 64-bit numbers (JavaScript), and nothing else."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        digits = parse_digits(value.removeprefix("-"))
        value = None if digits is None else -digits if value.startswith("-") else digits
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        raise GraphQLError(BIG_INT_REFUSED)
    return value


BigInt = NewType("BigInt", int)
BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer (GraphQL `Int` is 32-bit), sent as a JSON number.",
    serialize=int,
    parse_value=big_int_value,
)


def upload_value(value):
    """A variable's Upload: the file part the multipart request mapped to it (schema/http/ingress.py
    put it there). Anything else was sent as JSON; graphql-core names the variable."""
    if hasattr(value, "read"):
        return value
    raise refused_upload(
        "Expected a file: send the request as multipart/form-data with a file part mapped to "
        f"this variable (the GraphQL multipart request spec: {MULTIPART_SPEC})."
    )


def upload_literal(node, variables=None):
    """A file written in the query text: refused while the document is validated (before
    anyone is authenticated), so GRAPHQL_VALIDATION_FAILED like any invalid document."""
    raise GraphQLError(
        "A file can't be written in the query: declare a variable (`$file: Upload!`) and send "
        f"the request as multipart/form-data with a file part mapped to it ({MULTIPART_SPEC}).",
        node,
    )


def refused_upload(message: str) -> GraphQLError:
    """Coded INVALID_UPLOAD, like every upload refused (schema/errors.py unwraps it)."""
    return GraphQLError(message, original_error=InvalidUpload(message))


UPLOAD_SCALAR = strawberry.scalar(
    name="Upload",
    description="Represents a file upload.",  # Strawberry's own, kept: the SDL is unchanged
    serialize=lambda value: value,
    parse_value=upload_value,
    parse_literal=upload_literal,
)
SCALAR_MAP = {BigInt: BIG_INT_SCALAR, Upload: UPLOAD_SCALAR}
