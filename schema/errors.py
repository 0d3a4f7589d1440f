"""The one place where errors get their `extensions.code`: the `ErrorCode` enum, the map from
domain exceptions to codes, and the JSON error body of answers given outside GraphQL
execution (the upload ingress, the token check, downloads), shaped like a GraphQL error so a
client needs one error handler.

Anything else a resolver raises is masked (its details are logged, not sent), so a bug never
leaks internals to clients: where a client's mistake is known, the code raises a typed domain
error (`BadUserInput` for a malformed id or page). Errors raised by graphql-core before any
resolver runs (syntax, validation, limits) get GRAPHQL_VALIDATION_FAILED, or BAD_USER_INPUT
for variables. `ErrorCode` is in the schema too (the SDL's `ErrorCode` enum), so clients can
generate their handling from it.
"""

import enum
import logging

import strawberry
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from graphql.error import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from files_app import exceptions

from .graphql.answers import AnswerTooLarge

logger = logging.getLogger(__name__)


@strawberry.enum(description="Every `extensions.code` an error may carry.")
class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    TOO_MANY_FILES = "TOO_MANY_FILES"
    INVALID_UPLOAD = "INVALID_UPLOAD"
    RATE_LIMITED = "RATE_LIMITED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    DIRECT_UPLOAD_UNAVAILABLE = "DIRECT_UPLOAD_UNAVAILABLE"
    UPLOAD_MISSING = "UPLOAD_MISSING"
    UPLOAD_SIZE_MISMATCH = "UPLOAD_SIZE_MISMATCH"
    UPLOAD_OFFSET_MISMATCH = "UPLOAD_OFFSET_MISMATCH"
    UPLOAD_LOCKED = "UPLOAD_LOCKED"
    UPLOAD_EXPIRED = "UPLOAD_EXPIRED"
    INVALID_WEBHOOK_URL = "INVALID_WEBHOOK_URL"
    WEBHOOK_DESTINATION_REFUSED = "WEBHOOK_DESTINATION_REFUSED"
    WEBHOOK_LIMIT_REACHED = "WEBHOOK_LIMIT_REACHED"
    BAD_REQUEST = "BAD_REQUEST"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    SUBSCRIPTION_OVER_HTTP = "SUBSCRIPTION_OVER_HTTP"
    ANSWER_TOO_LARGE = "ANSWER_TOO_LARGE"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# The database is unreachable (restarting, failing over): worth retrying.
DATABASE_DOWN = (OperationalError, InterfaceError)

ERROR_CODES: dict[type[Exception], ErrorCode] = {
    exceptions.NotAuthenticated: ErrorCode.UNAUTHENTICATED,
    exceptions.FileNotFound: ErrorCode.NOT_FOUND,
    exceptions.NotPermitted: ErrorCode.FORBIDDEN,
    exceptions.FileTooLarge: ErrorCode.FILE_TOO_LARGE,
    exceptions.TooManyFiles: ErrorCode.TOO_MANY_FILES,
    exceptions.InvalidUpload: ErrorCode.INVALID_UPLOAD,
    exceptions.RateLimited: ErrorCode.RATE_LIMITED,
    exceptions.QuotaExceeded: ErrorCode.QUOTA_EXCEEDED,
    exceptions.BadUserInput: ErrorCode.BAD_USER_INPUT,
    exceptions.DirectUploadUnavailable: ErrorCode.DIRECT_UPLOAD_UNAVAILABLE,
    exceptions.UploadMissing: ErrorCode.UPLOAD_MISSING,
    exceptions.UploadSizeMismatch: ErrorCode.UPLOAD_SIZE_MISMATCH,
    exceptions.UploadOffsetMismatch: ErrorCode.UPLOAD_OFFSET_MISMATCH,
    exceptions.UploadLocked: ErrorCode.UPLOAD_LOCKED,
    exceptions.UploadExpired: ErrorCode.UPLOAD_EXPIRED,
    exceptions.WebhookNotFound: ErrorCode.NOT_FOUND,
    exceptions.InvalidWebhookUrl: ErrorCode.INVALID_WEBHOOK_URL,
    exceptions.WebhookDestinationRefused: ErrorCode.WEBHOOK_DESTINATION_REFUSED,
    exceptions.WebhookLimitReached: ErrorCode.WEBHOOK_LIMIT_REACHED,
    AnswerTooLarge: ErrorCode.ANSWER_TOO_LARGE,
    OperationalError: ErrorCode.SERVICE_UNAVAILABLE,
    InterfaceError: ErrorCode.SERVICE_UNAVAILABLE,
    # Redis (the channel layer) unreachable or just restarted: subscribing again works.
    RedisConnectionError: ErrorCode.SERVICE_UNAVAILABLE,
    RedisTimeoutError: ErrorCode.SERVICE_UNAVAILABLE,
    # The file storage failed (a full disk, a lost mount): logged, never echoed (it names paths).
    OSError: ErrorCode.SERVICE_UNAVAILABLE,
}
# The HTTP status of a domain error answered outside GraphQL execution (by the ingress).
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.UPLOAD_OFFSET_MISMATCH: 409,
    ErrorCode.UPLOAD_LOCKED: 423,
    ErrorCode.UPLOAD_EXPIRED: 410,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again in a moment."
INTERNAL_ERROR_MESSAGE = "Internal server error."
RETRY_AFTER_SECONDS = "5"


class EdgeError(Exception):
    """A request refused at the edge, before (or instead of) GraphQL execution.

    Its code is required: a default would put a client's code on answers that are our bugs
    (a tus 500 would reach the page as a refusal it must not retry). What has no code of its
    own is `EdgeError.internal()`."""

    def __init__(
        self,
        message: str,
        code: ErrorCode,
        status: int | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status or HTTP_STATUS.get(code, 400)
        self.headers = headers or {}

    @classmethod
    def from_domain(cls, error: exceptions.FileServiceError) -> "EdgeError":
        code = code_for_exception(error)
        if code is None:  # a domain error missing from ERROR_CODES: our bug, not the client's
            logger.error("A domain error has no code: %r", error)
            return cls.internal()
        headers = {"Retry-After": "60"} if code == ErrorCode.RATE_LIMITED else None
        return cls(error.message, code, headers=headers)

    @classmethod
    def subscription_over_http(cls, request) -> "EdgeError":
        """A subscription sent as an HTTP request (curl, GraphiQL's POST): say where they run."""
        scheme = "wss" if request.is_secure() else "ws"
        return cls(
            f"Subscriptions run over a websocket, not HTTP: connect to "
            f"{scheme}://{request.get_host()}/graphql/ with the graphql-transport-ws "
            "protocol (graphql-ws, gql or GraphiQL do).",
            ErrorCode.SUBSCRIPTION_OVER_HTTP,
        )

    @classmethod
    def invalid_upload(cls, message: str) -> "EdgeError":
        """A multipart request that breaks the spec's rules (schema/http/multipart.py)."""
        return cls(message, ErrorCode.INVALID_UPLOAD)

    @classmethod
    def internal(cls) -> "EdgeError":
        """A bug: logged where it was caught, answered 500 without its details."""
        return cls(INTERNAL_ERROR_MESSAGE, ErrorCode.INTERNAL_SERVER_ERROR)

    @classmethod
    def unavailable(cls) -> "EdgeError":
        return cls(
            UNAVAILABLE_MESSAGE,
            ErrorCode.SERVICE_UNAVAILABLE,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    def body(self) -> dict:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}

    def response(self) -> JsonResponse:
        """The answer for the routes Django serves (the endpoint sends `body()` itself)."""
        return JsonResponse(self.body(), status=self.status, headers=self.headers)


def answer_too_large(error: AnswerTooLarge) -> dict:
    """An answer past its byte budget (schema/graphql/answers.py): no data, and this one error."""
    return {
        "data": None,
        "errors": [{"message": str(error), "extensions": {"code": ErrorCode.ANSWER_TOO_LARGE}}],
    }


def code_for_exception(error: BaseException) -> ErrorCode | None:
    for error_class, code in ERROR_CODES.items():
        if isinstance(error, error_class):
            return code
    return None


def code_for(error: GraphQLError) -> ErrorCode:
    original = error.original_error
    if isinstance(original, GraphQLError) and isinstance(
        original.original_error, exceptions.FileServiceError
    ):  # a scalar's refusal (schema/graphql/scalars.py), wrapped by graphql-core: the domain's code
        original = original.original_error
    if original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core before any resolver ran: syntax, validation, variables.
        return (
            ErrorCode.BAD_USER_INPUT
            if error.message.startswith("Variable ")
            else (ErrorCode.GRAPHQL_VALIDATION_FAILED)
        )
    return code_for_exception(original) or ErrorCode.INTERNAL_SERVER_ERROR


def assign_code(error: GraphQLError) -> None:
    """Give the error its `extensions.code`, in place; mask the unexpected ones.

    Called by the schema's `process_errors` for every error of every operation (parse and
    validation errors included, which a result-processing extension would miss).
    """
    if error.extensions and "code" in error.extensions:
        return
    code = code_for(error)
    if code == ErrorCode.SERVICE_UNAVAILABLE:
        logger.warning("Backing service unavailable: %s", error.original_error)
        error.message = UNAVAILABLE_MESSAGE
        error.original_error = None
    elif code == ErrorCode.INTERNAL_SERVER_ERROR:
        logger.error("Unexpected GraphQL error: %s", error.message, exc_info=error.original_error)
        error.message = INTERNAL_ERROR_MESSAGE
        error.original_error = None
    error.extensions = {**(error.extensions or {}), "code": code.value}
