"""The GraphQL endpoint: what one query may ask, GraphiQL and introspection, subscriptions."""

from project.settings.env import MIB, env_bool, env_int

GRAPHQL_MAX_QUERY_DEPTH = env_int("GRAPHQL_MAX_QUERY_DEPTH", 10)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 100)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
# The most one answer may be, in bytes of JSON: a query's or a subscription event's.
# Counted while it is executed and serialised (schema/graphql/answers.py); past it the answer is one
# ANSWER_TOO_LARGE error. Also what a subscription's event may be.
GRAPHQL_MAX_ANSWER_BYTES = env_int("GRAPHQL_MAX_ANSWER_BYTES", 4 * MIB)
# The most a query may ask for, in bytes, counted before it runs from what each field can
# return at most (a list of archive entries far more than a number), times the lists and
# pages around it, aliases included (schema/graphql/cost.py). Above it: GRAPHQL_VALIDATION_FAILED.
GRAPHQL_MAX_QUERY_COST = env_int("GRAPHQL_MAX_QUERY_COST", 32 * MIB)
GRAPHQL_GRAPHIQL = env_bool("GRAPHQL_GRAPHIQL", True)
# Schema introspection (GraphiQL's docs, codegen); can be turned off in production.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", True)
# Subscriptions one websocket connection may run at once.
GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION = env_int("GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20)
STRAWBERRY_DJANGO = {
    "PAGINATION_DEFAULT_LIMIT": GRAPHQL_MAX_PAGE_SIZE,
    "MAP_AUTO_ID_AS_GLOBAL_ID": True,
}
