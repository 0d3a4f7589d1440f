"""The GraphQL endpoint: what one query may ask, GraphiQL and introspection, subscriptions."""

from project.settings.env import env_bool, env_int

GRAPHQL_MAX_QUERY_DEPTH = env_int("GRAPHQL_MAX_QUERY_DEPTH", 10)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 100)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
GRAPHQL_GRAPHIQL = env_bool("GRAPHQL_GRAPHIQL", True)
# Schema introspection (GraphiQL's docs, codegen); can be turned off in production.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", True)
# Subscriptions one websocket connection may run at once.
GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION = env_int("GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20)
STRAWBERRY_DJANGO = {
    "PAGINATION_DEFAULT_LIMIT": GRAPHQL_MAX_PAGE_SIZE,
    "MAP_AUTO_ID_AS_GLOBAL_ID": True,
}
