"""POST /graphql/: GraphQL over HTTP (JSON, and multipart uploads), served as its own ASGI
app in front of Django's handler.

Why not Django's handler: it spools the whole request body to a temporary file before any
middleware or view runs, so nothing behind it can refuse an upload early, and every request
pays for the middleware chain and a thread of its own. Here, in order:

1. who is asking, from the headers (`schema.auth`), before one byte of the body is read:
   an anonymous request is refused (401) with its body unread, JSON or multipart;
2. a declared `Content-Length` over the limit is refused with 413 at once;
3. the body is read as it arrives (at a pace, or the client is dropped: schema/http/pacing.py):
   JSON up to `DATA_UPLOAD_MAX_MEMORY_SIZE`, multipart through `schema.http.ingress` (each file
   written once, limits checked on every chunk);
4. the operation runs with Strawberry's synchronous executor in one hop to a database
   thread (a fixed pool, `DATABASE_THREADS`): no awaitable per field, and each thread's
   connection is kept between requests (`CONN_MAX_AGE`), checked before each use;
5. the answer is executed and serialised within its byte budget (schema/graphql/answers.py).
Anything written for a refused or failed request is removed before the answer is sent.
"""

import asyncio
import contextlib
import logging

from django.conf import settings
from strawberry.django.context import StrawberryDjangoContext
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from files_app import exceptions, services, storage
from files_app.sizes import human_size

from .. import auth
from ..errors import DATABASE_DOWN, EdgeError, ErrorCode, answer_too_large
from ..graphql import answers
from ..observability import UPLOAD_BYTES, GraphQLRequestMetrics
from . import operation
from .ingress import MultipartIngress, UploadLimits
from .multipart import load_json
from .reservations import kept
from .transport import (
    ClientGone,
    answer,
    check_host,
    declared_length,
    read_body,
    receive_into,
    refusal,
    unread_request,
    with_database,
)

logger = logging.getLogger(__name__)

MULTIPART = "multipart/form-data"


def refuse_over(length: int | None, limit: int, what: str, code: ErrorCode) -> None:
    if length is not None and length > limit:
        raise EdgeError(
            f"The request ({human_size(length)}) is larger than {what} ({human_size(limit)}).",
            code,
            status=413,
        )


class GraphQLEndpoint:
    def __init__(self, schema):
        self.schema = schema

    async def __call__(self, scope, receive, send):
        request = unread_request(scope)  # headers only: the body is read here
        request.metrics = metrics = GraphQLRequestMetrics()
        media_type = operation.negotiate(request.headers.get("Accept"))
        try:
            status, body, headers = await self.respond(request, receive, media_type)
        except ClientGone:
            return
        except Exception as error:
            refused = refusal(error, "the GraphQL endpoint")
            status, body, headers = refused.status, refused.body(), refused.headers
        try:
            payload = answers.encode(body)  # stops at the answer budget
        except answers.AnswerTooLarge as error:
            body = answer_too_large(error)
            payload = answers.encode(body)
        metrics.answered(body)
        await answer(send, request, status, payload, content_type=media_type, headers=headers)

    async def respond(self, request, receive, media_type):
        check_host(request)
        if request.method == "GET":  # no body: the operation is in the query string
            return await with_database(self.execute_get)(request, media_type)
        length = declared_length(request)
        if request.content_type == MULTIPART:
            return await self.upload(request, receive, length, media_type)
        if request.content_type == operation.JSON:
            await with_database(auth.authenticated_user)(request)  # anonymous: 401, body unread
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            refuse_over(length, limit, "a GraphQL request may be", ErrorCode.BAD_USER_INPUT)
            body = load_json(
                await read_body(receive, limit), "The request body", ErrorCode.BAD_REQUEST
            )
            return await with_database(self.execute)(request, body, media_type)
        raise EdgeError(
            "Send `application/json`, or `multipart/form-data` for uploads.",
            ErrorCode.BAD_REQUEST,
            status=415,
        )

    async def upload(self, request, receive, length, media_type):
        request.metrics.upload = True
        limits, reservation = await with_database(self.admit_upload)(request, length)
        async with kept(reservation):
            return await self.receive_upload(
                request, receive, length, limits, reservation, media_type
            )

    async def receive_upload(self, request, receive, length, limits, reservation, media_type):
        if limits.quota_binds:
            what, code = "what your storage quota leaves", ErrorCode.QUOTA_EXCEEDED
        else:
            what, code = "this upload may be", ErrorCode.FILE_TOO_LARGE
        refuse_over(length, limits.max_request_size, what, code)
        boundary = request.content_params.get("boundary")
        if not boundary:
            raise EdgeError.invalid_upload("The multipart Content-Type has no boundary.")
        ingress = MultipartIngress(boundary.encode("latin-1", "replace"), limits)
        try:
            try:
                await receive_into(ingress, receive)
                operations = ingress.finish()
            except OSError:  # a full or broken disk, S3 away: logged, answered without details
                logger.exception("An upload could not be written to the file storage")
                raise EdgeError.unavailable() from None
            return await with_database(self.execute_and_release)(
                request, operations, reservation, media_type
            )
        finally:
            UPLOAD_BYTES.inc(ingress.file_bytes)
            if storage.is_s3():
                await asyncio.to_thread(ingress.discard)  # aborting is a request to S3
            else:
                ingress.discard()

    def admit_upload(self, request, length: int | None):
        """Who is uploading, and what they may still upload, reserved against their quota
        while the body arrives (schema/http/reservations.py keeps it): before any byte of it."""
        user = auth.authenticated_user(request)
        try:
            reservation = services.upload_reserve(owner=user, size=length)
        except exceptions.FileServiceError as error:
            raise EdgeError.from_domain(error) from None
        limits = UploadLimits(
            max_file_size=settings.MAX_UPLOAD_SIZE,
            max_files=settings.MAX_FILES_PER_REQUEST,
            max_fields_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            files_left=reservation.files_left,
            bytes_left=reservation.bytes_left,
            owner_id=user.pk,
            reservation_id=reservation.pk,
        )
        return limits, reservation

    def execute_and_release(self, request, body, reservation, media_type):
        """The upload's operation, then its reservation released in the same hop (one thread
        hop less per upload): its files are rows by then, or refused."""
        try:
            return self.execute(request, body, media_type)
        finally:
            with contextlib.suppress(*DATABASE_DOWN):  # released later, or it expires
                services.upload_reservation_release(reservation=reservation)

    def execute_get(self, request, media_type):
        """A GET: who is asking first (a session needs its CSRF token, as for a POST), then
        the query string, within the same byte limit as a POST's body."""
        auth.authenticated_user(request, csrf_on_every_method=True)
        query_string = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        refuse_over(len(query_string), limit, "a GraphQL request may be", ErrorCode.BAD_USER_INPUT)
        return self.execute(request, operation.from_query_string(query_string), media_type)

    def execute(self, request, body, media_type):
        checked = operation.checked(body)
        request.metrics.named(checked)
        try:
            result = self.schema.execute_sync(
                checked.get("query"),
                variable_values=checked.get("variables"),
                operation_name=checked.get("operationName"),
                operation_extensions=checked.get("extensions"),
                context_value=StrawberryDjangoContext(request=request, response=None),
                allowed_operation_types=operation.METHOD_OPERATIONS[request.method],
            )
        except CannotGetOperationTypeError as error:
            raise EdgeError(error.as_http_error_reason(), ErrorCode.BAD_REQUEST) from None
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.MUTATION:
                raise operation.mutation_over_get() from None
            raise EdgeError.subscription_over_http(request) from None
        except MissingQueryError:
            raise EdgeError(
                "No GraphQL query found in the request.", ErrorCode.BAD_REQUEST
            ) from None
        status, answered = operation.status_of(process_result(result), media_type)
        return status, answered, {}
