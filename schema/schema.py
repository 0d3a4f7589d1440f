"""The schema and its extensions (passed as classes/factories, never shared instances)."""

import strawberry
from django.conf import settings
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from .errors import assign_code
from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types_common import BIG_INT_SCALAR, BigInt

# Parsing and validating the same query text again on every request was a fifth of the web
# process's CPU (profiled under `make bench`). The validation cache keys on the rules, so the
# limit rules are built once here instead of once per request by their extensions.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_QUERY_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
    *([] if settings.GRAPHQL_INTROSPECTION else [NoSchemaIntrospectionCustomRule]),
]
QUERY_CACHE_SIZE = 512


class QueryLimits(AddValidationRules):
    """Depth, aliases and (optionally) no introspection; page size is relay_max_results."""

    def __init__(self):
        super().__init__(LIMIT_RULES)


class FilesSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Every error gets its code here; only unexpected ones are logged (by assign_code):
        users' mistakes are not server errors."""
        for error in errors:
            assign_code(error)


schema = FilesSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(
        relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE,
        scalar_map={BigInt: BIG_INT_SCALAR},
    ),
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        QueryLimits,
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        DjangoOptimizerExtension,
    ],
)
