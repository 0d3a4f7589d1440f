"""`live-files webhooks list|create|delete`, against the contract of docs/webhooks.md
(`webhooks`, `createWebhook(url, events)` → `{webhook, secret}`, `deleteWebhook(id)`).

A server without webhooks answers these operations with a validation error naming the
missing field or type; that is reported as "not available on this server" rather than as a
failed query, so the command works unchanged once the server has them. No introspection is
needed (production servers may turn it off)."""

import re

from . import documents
from .api import Api
from .errors import ClientError, Exit

EVENTS = ("FILE_DONE", "FILE_FAILED", "FILE_DELETED")
MISSING = re.compile(
    r"Cannot query field '(webhooks|createWebhook|deleteWebhook)' on type '(Query|Mutation)'"
    r"|Unknown type 'WebhookEvent'"
)


def event_name(value: str) -> str:
    """FILE_DONE, file_done or the delivery's type, file.done."""
    name = value.strip().upper().replace(".", "_")
    if name not in EVENTS:
        raise ClientError(
            f"unknown event {value!r}: one of {', '.join(EVENTS)} (or file.done, …)",
            exit=Exit.USAGE,
        )
    return name


def run(api: Api, document: str, variables: dict | None = None) -> dict:
    try:
        return api.execute(document, variables)
    except ClientError as error:
        if error.code == "GRAPHQL_VALIDATION_FAILED" and MISSING.search(error.message):
            raise ClientError(
                f"webhooks are not available on this server ({api.server.base}): its API has "
                "no `createWebhook` yet",
                exit=Exit.REFUSED,
            ) from None
        raise


def webhooks_list(api: Api) -> list[dict]:
    return run(api, documents.WEBHOOKS)["webhooks"]


def webhook_create(api: Api, url: str, events: list[str]) -> dict:
    """`{webhook, secret}`: the secret is shown this once."""
    chosen = sorted({event_name(event) for event in events}) if events else list(EVENTS)
    return run(api, documents.CREATE_WEBHOOK, {"url": url, "events": chosen})["createWebhook"]


def webhook_delete(api: Api, webhook_id: str) -> str:
    return run(api, documents.DELETE_WEBHOOK, {"id": webhook_id})["deleteWebhook"]
