"""The one place where domain errors become GraphQL errors with `extensions.code`.

Anything else a resolver raises is masked (its details are logged, not sent), so a bug
never leaks internals to clients.
"""

import logging

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from files_app import exceptions

logger = logging.getLogger(__name__)

ERROR_CODES: dict[type[Exception], str] = {
    exceptions.NotAuthenticated: "UNAUTHENTICATED",
    exceptions.FileNotFound: "NOT_FOUND",
    exceptions.FileTooLarge: "FILE_TOO_LARGE",
    exceptions.TooManyFiles: "TOO_MANY_FILES",
    exceptions.InvalidUpload: "INVALID_UPLOAD",
    exceptions.BadUserInput: "BAD_USER_INPUT",
}
INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
INTERNAL_ERROR_MESSAGE = "Internal server error."


def code_for(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        # Raised by graphql-core before any resolver ran: syntax, validation, variables.
        return "BAD_USER_INPUT" if error.message.startswith("Variable ") else (
            "GRAPHQL_VALIDATION_FAILED"
        )
    for error_class, code in ERROR_CODES.items():
        if isinstance(original, error_class):
            return code
    return INTERNAL_ERROR_CODE


class ErrorCodes(MaskErrors):
    """Adds `extensions.code` to every error and masks the unexpected ones."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self.with_code(error) for error in errors]

    def with_code(self, error: GraphQLError) -> GraphQLError:
        if error.extensions and "code" in error.extensions:
            return error
        code = code_for(error)
        message = error.message
        if code == INTERNAL_ERROR_CODE:
            logger.error("Unexpected GraphQL error", exc_info=error.original_error)
            message = INTERNAL_ERROR_MESSAGE
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={**(error.extensions or {}), "code": code},
        )
