"""The schema and its extensions (passed as classes/factories, never shared instances)."""

import functools

import strawberry
from django.conf import settings
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from ..errors import ErrorCode, assign_code
from .answers import BudgetedExecution
from .cost import query_cost_rule
from .mutations import Mutation
from .queries import Query
from .scalars import SCALAR_MAP
from .subscriptions import Subscription

# Parsing and validating the same query text again on every request would be a fifth of the
# web process's CPU (profiled under `make bench`). The validation cache keys on the rules, so the
# limit rules are built once per distinct setting values instead of once per request by
# their extensions.
QUERY_CACHE_SIZE = 512


@functools.cache
def limit_rules(
    max_depth: int,
    max_aliases: int,
    introspection: bool,
    max_cost: int,
    page_size: int,
    files_per_request: int,
) -> tuple:
    return (
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        query_cost_rule(max_cost, page_size, files_per_request),
        *(() if introspection else (NoSchemaIntrospectionCustomRule,)),
    )


class QueryLimits(AddValidationRules):
    """Depth, aliases, what the answer could hold at most (schema/graphql/cost.py) and (optionally)
    no introspection; page size is relay_max_results."""

    def __init__(self):
        super().__init__(
            list(
                limit_rules(
                    settings.GRAPHQL_MAX_QUERY_DEPTH,
                    settings.GRAPHQL_MAX_ALIASES,
                    settings.GRAPHQL_INTROSPECTION,
                    settings.GRAPHQL_MAX_QUERY_COST,
                    settings.GRAPHQL_MAX_PAGE_SIZE,
                    settings.MAX_FILES_PER_REQUEST,
                )
            )
        )


class QuerysetOptimizer(DjangoOptimizerExtension):
    """strawberry-django's optimizer (`only`, `select_related` from the selection) without its
    per-field `resolve` hook. Every queryset here comes from a strawberry-django field, whose
    `get_queryset` calls the optimizer already; the hook would wrap each of the 700 fields of
    a page of 100 files, a tenth of the page's CPU (profiled under `make bench`)."""

    resolve = SchemaExtension.resolve


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
    types=[ErrorCode],  # not returned by any field: listed so the SDL has it
    # Counts what an answer holds as it is built, against GRAPHQL_MAX_ANSWER_BYTES.
    execution_context_class=BudgetedExecution,
    config=StrawberryConfig(
        relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE,
        scalar_map=SCALAR_MAP,
    ),
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        QueryLimits,
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        QuerysetOptimizer,
    ],
)
