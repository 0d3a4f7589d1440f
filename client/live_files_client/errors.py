"""What went wrong, in the server's words (its `extensions.code`, the HTTP status, the
Retry-After), and the exit code a script can act on (docs/client.md, "Exit codes")."""

import enum
import json


class Exit(enum.IntEnum):
    OK = 0
    REFUSED = 1  # the server refused it (NOT_FOUND, QUOTA_EXCEEDED, …), or it failed otherwise
    USAGE = 2  # bad arguments, no URL or token, a local file missing (argparse's own code too)
    UNAUTHENTICATED = 3  # the token is missing, wrong, expired or revoked, or lacks the right
    RETRY_LATER = 4  # unreachable, cut off, SERVICE_UNAVAILABLE, RATE_LIMITED, a --timeout
    PROCESSING_FAILED = 5  # a file ended FAILED (or was deleted) while waiting for it
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


AUTHENTICATION_CODES = {"UNAUTHENTICATED", "FORBIDDEN"}
# Answers that say "not now": the same request may work later.
TRANSIENT_CODES = {"RATE_LIMITED", "SERVICE_UNAVAILABLE", "REQUEST_TIMEOUT", "UPLOAD_LOCKED"}
# What the server closes a websocket with (README, "Authentication").
CLOSE_CODES = {
    4401: ("UNAUTHENTICATED", "the server refused the token on the websocket"),
    4429: (None, "too many live connections for this user: close another client"),
}
# At most this much of an error answer is read: it is a message, not a download.
MAX_ERROR_BODY = 64 * 1024


class ClientError(Exception):
    """A failure to report and exit on. `code` is the server's `extensions.code` when it gave
    one; `status` the HTTP status of an answer given outside GraphQL."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: str | None = None,
        exit: Exit | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.exit = exit if exit is not None else exit_for(code, status)

    def __str__(self) -> str:
        details = [f"HTTP {self.status}"] if self.status else []
        if self.retry_after:
            details.append(f"retry after {self.retry_after} s")
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{text} ({', '.join(details)})" if details else text

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "httpStatus": self.status,
            "retryAfter": self.retry_after,
        }


def exit_for(code: str | None, status: int | None) -> Exit:
    if code in AUTHENTICATION_CODES or status in (401, 403):
        return Exit.UNAUTHENTICATED
    if code in TRANSIENT_CODES or status in (408, 429) or (status or 0) >= 500:
        return Exit.RETRY_LATER
    return Exit.REFUSED


def from_graphql(
    errors: list, status: int | None = None, retry_after: str | None = None
) -> ClientError:
    """The first GraphQL error (the server sends one per refusal)."""
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    message = first.get("message") or "the server answered an error without a message"
    return ClientError(message, code=code, status=status, retry_after=retry_after)


def from_answer(status: int, body: bytes, retry_after: str | None = None) -> ClientError:
    """An HTTP error answer: the server's JSON error body when it is one (the same shape as a
    GraphQL error), else its status alone (a proxy's HTML page says nothing a script can use)."""
    try:
        errors = json.loads(body[:MAX_ERROR_BODY])["errors"]
    except (ValueError, KeyError, TypeError):
        errors = None
    if errors:
        return from_graphql(errors, status, retry_after)
    return ClientError(f"the server answered HTTP {status}", status=status, retry_after=retry_after)


def unreachable(url: str, reason: object) -> ClientError:
    return ClientError(f"cannot reach {url}: {reason}", exit=Exit.RETRY_LATER)


def websocket_closed(error: BaseException, url: str) -> ClientError:
    """A websocket the server closed (with its code), or one that never opened."""
    close_code = close_code_of(error)
    if close_code in CLOSE_CODES:
        code, message = CLOSE_CODES[close_code]
        return ClientError(
            f"{message} (websocket close code {close_code})",
            code=code,
            exit=Exit.UNAUTHENTICATED if code else Exit.RETRY_LATER,
        )
    if close_code is not None:
        return ClientError(
            f"the server closed the live connection (websocket close code {close_code})",
            exit=Exit.RETRY_LATER,
        )
    return unreachable(url, root_cause(error))


def close_code_of(error: BaseException) -> int | None:
    """The close code a `websockets.ConnectionClosed` somewhere in the chain received."""
    seen = error
    while seen is not None:
        received = getattr(seen, "rcvd", None)
        if received is not None and getattr(received, "code", None) is not None:
            return received.code
        seen = seen.__cause__ or seen.__context__
    return None


def root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    return error
