"""The schema and its extensions (passed as classes/factories, never shared instances)."""

from functools import partial

import strawberry
from django.conf import settings
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from .errors import ErrorCodes
from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types_common import BIG_INT_SCALAR, BigInt


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
        DjangoOptimizerExtension,
        partial(QueryDepthLimiter, max_depth=settings.GRAPHQL_MAX_QUERY_DEPTH),
        ErrorCodes,
    ],
)
