"""The JSON error body every non-GraphQL failure uses, shaped like a GraphQL error so a
client needs one error handler."""

from django.http import JsonResponse


def json_error(message: str, *, code: str, status: int, headers=None) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status=status,
        headers=headers,
    )
