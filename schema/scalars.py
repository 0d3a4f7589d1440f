"""Scalars shared by the types and the per-kind results."""

from typing import NewType

import strawberry

BigInt = NewType("BigInt", int)
BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer (GraphQL `Int` is 32-bit), sent as a JSON number.",
    serialize=int,
    parse_value=int,
)
