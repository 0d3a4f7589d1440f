"""The one place where domain errors become GraphQL errors with `extensions.code`.

Anything else a resolver raises is masked (its details are logged, not sent), so a bug
never leaks internals to clients. Errors raised by graphql-core before any resolver runs
(syntax, validation, limits) get GRAPHQL_VALIDATION_FAILED, or BAD_USER_INPUT for variables.
"""

import logging
import os
import traceback

from django.db import InterfaceError, OperationalError
from graphql.error import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from files_app import exceptions

logger = logging.getLogger(__name__)

ERROR_CODES: dict[type[Exception], str] = {
    exceptions.NotAuthenticated: "UNAUTHENTICATED",
    exceptions.FileNotFound: "NOT_FOUND",
    exceptions.FileTooLarge: "FILE_TOO_LARGE",
    exceptions.TooManyFiles: "TOO_MANY_FILES",
    exceptions.InvalidUpload: "INVALID_UPLOAD",
    exceptions.RateLimited: "RATE_LIMITED",
    exceptions.QuotaExceeded: "QUOTA_EXCEEDED",
    exceptions.BadUserInput: "BAD_USER_INPUT",
    # The database is unreachable (restarting, failing over): worth retrying.
    OperationalError: "SERVICE_UNAVAILABLE",
    InterfaceError: "SERVICE_UNAVAILABLE",
    # Redis (the channel layer) unreachable or just restarted: subscribing again works.
    RedisConnectionError: "SERVICE_UNAVAILABLE",
    RedisTimeoutError: "SERVICE_UNAVAILABLE",
}
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again in a moment."
INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
INTERNAL_ERROR_MESSAGE = "Internal server error."


# Strawberry's Relay pagination raises plain ValueErrors for a malformed cursor (`after`,
# `before`) or an out-of-range `first`/`last`: the client's mistake, not a bug of ours.
# Found by the schemathesis run in tests/test_fuzz_schema.py.
RELAY_MODULE = f"{os.sep}strawberry{os.sep}relay{os.sep}"


def raised_by_relay_pagination(error: BaseException) -> bool:
    if not isinstance(error, ValueError):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return any(RELAY_MODULE in frame.filename for frame in frames)


def code_for(error: GraphQLError) -> str:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core before any resolver ran: syntax, validation, variables.
        return "BAD_USER_INPUT" if error.message.startswith("Variable ") else (
            "GRAPHQL_VALIDATION_FAILED"
        )
    for error_class, code in ERROR_CODES.items():
        if isinstance(original, error_class):
            return code
    if raised_by_relay_pagination(original):
        return "BAD_USER_INPUT"
    return INTERNAL_ERROR_CODE


def assign_code(error: GraphQLError) -> None:
    """Give the error its `extensions.code`, in place; mask the unexpected ones.

    Called by the schema's `process_errors` for every error of every operation (parse and
    validation errors included, which a result-processing extension would miss).
    """
    if error.extensions and "code" in error.extensions:
        return
    code = code_for(error)
    if code == "SERVICE_UNAVAILABLE":
        logger.warning("Backing service unavailable: %s", error.original_error)
        error.message = UNAVAILABLE_MESSAGE
        error.original_error = None
    elif code == INTERNAL_ERROR_CODE:
        logger.error("Unexpected GraphQL error: %s", error.message, exc_info=error.original_error)
        error.message = INTERNAL_ERROR_MESSAGE
        error.original_error = None
    error.extensions = {**(error.extensions or {}), "code": code}
