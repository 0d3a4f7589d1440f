"""The schema and its extensions (passed as classes/factories, never shared instances)."""

import strawberry
from django.conf import settings
from strawberry.extensions import (
    AddValidationRules,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from .errors import ErrorCodes
from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types_common import BIG_INT_SCALAR, BigInt

# Parsing and validating the same query text again on every request was a fifth of the web
# process's CPU (profiled under `make bench`). The caches key on the validation rules, so the
# depth rule is built once here instead of once per request by QueryDepthLimiter.
DEPTH_RULE = QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_QUERY_DEPTH).validation_rules[0]
QUERY_CACHE_SIZE = 512


class DepthLimit(AddValidationRules):
    def __init__(self):
        super().__init__([DEPTH_RULE])


class FilesSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Users' mistakes are not server errors: `ErrorCodes` logs the unexpected ones."""


schema = FilesSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(
        relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE,
        scalar_map={BigInt: BIG_INT_SCALAR},
    ),
    extensions=[
        DepthLimit,
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        DjangoOptimizerExtension,
        ErrorCodes,
    ],
)
