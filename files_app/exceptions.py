"""Domain errors: plain exceptions, mapped to GraphQL `extensions.code` in `schema/errors.py`.

Messages are written for the person who uploaded the file.
"""


class FileServiceError(Exception):
    """Base of every error a user can cause and read."""

    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class NotAuthenticated(FileServiceError):
    default_message = "You must be logged in (session or `Authorization: Bearer <token>`)."


class FileNotFound(FileServiceError):
    """Also raised for someone else's file: never reveal that it exists."""

    default_message = "No such file."


class NotPermitted(FileServiceError):
    """A file the user may see (someone else's) but lacks the right to change this way."""

    default_message = "You may not do that to this file."


class FileTooLarge(FileServiceError):
    pass


class TooManyFiles(FileServiceError):
    pass


class RateLimited(FileServiceError):
    pass


class QuotaExceeded(FileServiceError):
    pass


class InvalidUpload(FileServiceError):
    default_message = "The upload is not valid."


class BadUserInput(FileServiceError):
    pass


class DirectUploadUnavailable(FileServiceError):
    default_message = (
        "Direct uploads need S3 storage, which this server does not use: "
        "upload through `uploadFile` instead."
    )


class UploadMissing(FileServiceError):
    """`completeUpload` before the bytes reached the bucket."""

    default_message = (
        "The file's bytes have not reached the storage: send them to the "
        "upload URL first, then complete the upload."
    )


class UploadSizeMismatch(FileServiceError):
    """The bucket holds another number of bytes than `createUploadUrl` declared."""


class UploadOffsetMismatch(FileServiceError):
    """A tus PATCH that does not start where the stored bytes end (tus answers 409)."""


class UploadLocked(FileServiceError):
    """Another request writes this upload's bytes now (tus answers 423 Locked)."""

    default_message = (
        "Another request is sending this upload's bytes right now: wait for it to end, ask "
        "where the stored bytes end, and go on from there."
    )


class UploadExpired(FileServiceError):
    default_message = "This upload expired before it was finished: start it again."


class WebhookNotFound(FileServiceError):
    """Also raised for someone else's webhook: never reveal that it exists."""

    default_message = "No such webhook."


class InvalidWebhookUrl(FileServiceError):
    """Not an absolute http(s) URL with a host, or one with credentials in it."""


class WebhookDestinationRefused(FileServiceError):
    """A destination that resolves to a loopback, private, link-local or metadata address
    (server-side request forgery), or does not resolve at all."""


class WebhookLimitReached(FileServiceError):
    pass


class TransientProcessingError(Exception):
    """Storage hiccup while processing: the task retries with backoff. Not shown to users."""
