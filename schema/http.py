"""The GraphQL HTTP endpoint: multipart uploads parsed strictly, every error as JSON.

Django's multipart parser streams each file to a temporary file (see
`files_app.uploads`); `MultipartGuardMiddleware` runs it early, in a worker thread, and
turns a malformed body into a 400 with a JSON body instead of a 500 deeper down.
"""

import json

from asgiref.sync import sync_to_async
from cross_web.exceptions import HTTPException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.http.multipartparser import MultiPartParserError
from strawberry.django.views import AsyncGraphQLView

from files_app.http import ConditionalMiddleware, json_error

OPERATION_KEY = "variables"


class UploadRequestError(HTTPException):
    def __init__(self, reason: str, code: str = "INVALID_UPLOAD"):
        super().__init__(400, reason)
        self.code = code


def is_multipart_post(request) -> bool:
    return request.method == "POST" and request.content_type == "multipart/form-data"


def parse_multipart_body(request) -> None:
    """Parse request.POST and request.FILES once; raise UploadRequestError if malformed."""
    try:
        request.POST  # noqa: B018 - parses the body, files and all
    except TooManyFilesSent:
        raise UploadRequestError(
            f"Too many files: at most {settings.MAX_FILES_PER_REQUEST} in one request.",
            code="TOO_MANY_FILES",
        ) from None
    except RequestDataTooBig:
        raise UploadRequestError(
            "The non-file fields of the request are too large.", code="BAD_USER_INPUT"
        ) from None
    except (MultiPartParserError, SuspiciousOperation, ValueError, OSError) as error:
        raise UploadRequestError(f"Malformed multipart request: {error}") from None


class MultipartGuardMiddleware(ConditionalMiddleware):
    """Parses multipart bodies before CSRF (which would read them anyway) can turn a
    malformed one into a 500. Runs in a thread: parsing never blocks the event loop."""

    def applies(self, request) -> bool:
        return is_multipart_post(request)

    def handle(self, request):
        try:
            parse_multipart_body(request)
        except UploadRequestError as error:
            return json_error(error.reason, code=error.code, status=400)
        return None


class DuplicateKey(ValueError):
    pass


def refuse_duplicate_keys(pairs: list[tuple]) -> dict:
    """json.loads would keep the last of two equal keys and drop the other without a word."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def load_json_field(form, name: str):
    """A field sent twice, or a JSON object with a key twice, is ambiguous: which one did the
    client mean? Refused rather than guessed."""
    values = form.getlist(name)
    if not values:
        raise UploadRequestError(f"The multipart request has no `{name}` field.")
    if len(values) > 1:
        raise UploadRequestError(f"The `{name}` field was sent {len(values)} times.")
    try:
        return json.loads(values[0], object_pairs_hook=refuse_duplicate_keys)
    except DuplicateKey as duplicate:
        key = duplicate.args[0]
        raise UploadRequestError(f"The `{name}` field has the key {key!r} twice.") from None
    except (TypeError, ValueError):
        raise UploadRequestError(f"The `{name}` field is not valid JSON.") from None


def put_file_at(operations, path: str, file) -> None:
    """Replace the null at `path` (e.g. `variables.files.0`, or `0.variables.file` in a
    batch) with the file, refusing any path that does not lead to a variable."""
    keys = path.split(".")
    target = operations
    if isinstance(operations, list):
        if not keys[0].isdigit() or int(keys[0]) >= len(operations):
            raise UploadRequestError(f"map path {path!r} names no operation of the batch.")
        target = operations[int(keys[0])]
        keys = keys[1:]
    if len(keys) < 2 or keys[0] != OPERATION_KEY:
        raise UploadRequestError(f"map path {path!r} does not point into `variables`.")
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(target, list) and key.isdigit() and int(key) < len(target):
            index = int(key)
        elif isinstance(target, dict) and key in target:
            index = key
        else:
            raise UploadRequestError(f"map path {path!r} does not exist in `operations`.")
        if last:
            if target[index] is not None:
                raise UploadRequestError(f"map path {path!r} must point at a null value.")
            target[index] = file
        else:
            target = target[index]


def attach_files(operations, files_map, files):
    """Every file part must be named in `map` exactly once, and sent once: an upload the
    request would otherwise drop (an unmapped part, the first of two parts with one name)
    is refused instead of lost without a word."""
    if not isinstance(operations, (dict, list)):
        raise UploadRequestError("`operations` must be a JSON object or array.")
    if not isinstance(files_map, dict):
        raise UploadRequestError("`map` must be a JSON object of part name -> paths.")
    for part_name in files:
        if part_name not in files_map:
            raise UploadRequestError(f"The part {part_name!r} is not named in `map`.")
        if len(files.getlist(part_name)) > 1:
            raise UploadRequestError(f"The part {part_name!r} was sent more than once.")
    for part_name, paths in files_map.items():
        if part_name not in files:
            # Django drops a file part whose file name is empty or unprintable ("..", "\x95").
            raise UploadRequestError(
                f"map names the part {part_name!r}, which was not sent (or not as a file with "
                "a usable file name).")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise UploadRequestError(f"map entry {part_name!r} must be a non-empty list of paths.")
        for path in paths:
            put_file_at(operations, path, files[part_name])
    return operations


class FileUploadGraphQLView(AsyncGraphQLView):
    async def parse_multipart(self, request):
        django_request = request.request
        await sync_to_async(parse_multipart_body)(django_request)  # parsed already: cheap
        operations = load_json_field(django_request.POST, "operations")
        files_map = load_json_field(django_request.POST, "map")
        return attach_files(operations, files_map, django_request.FILES)

    async def dispatch(self, request, *args, **kwargs):
        try:
            return await self.run(request=request)
        except UploadRequestError as error:
            return json_error(error.reason, code=error.code, status=error.status_code)
        except HTTPException as error:
            return json_error(error.reason, code="BAD_REQUEST", status=error.status_code)
