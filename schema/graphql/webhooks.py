"""Webhooks in the API (docs/webhooks.md): `webhooks`, `createWebhook`, `deleteWebhook`.

A user's own webhooks only, staff included: each resolver hands its input to a service or a
selector, which scope it to the caller.
"""

from datetime import datetime

import strawberry
from strawberry_django.auth.utils import get_current_user

from files_app import selectors, services
from files_app.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from schema.graphql.ids import decode_webhook_id, encode_webhook_id

WebhookEventEnum = strawberry.enum(
    WebhookEvent,
    name="WebhookEvent",
    description="What a webhook hears of: a file of yours DONE, FAILED or deleted.",
)
DeliveryStatusEnum = strawberry.enum(
    DeliveryStatus,
    name="WebhookDeliveryStatus",
    description=(
        "PENDING: not tried yet, or waiting for its next try; SUCCEEDED: answered 2xx; "
        "FAILED: no try succeeded within a day (WEBHOOK_RETRY_FOR_SECONDS)."
    ),
)


@strawberry.type(name="WebhookDelivery", description="One event sent to a webhook.")
class DeliveryType:
    status: DeliveryStatusEnum = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Tries so far.")
    responded_with: str | None = strawberry.field(
        description=(
            'What the last try got: "HTTP 200", "HTTP 503", "no answer within 10 s", '
            '"refused: …"; null before the first try.'
        )
    )
    at: datetime = strawberry.field(description="When the last try was made (or queued).")
    event: WebhookEventEnum = strawberry.field(description="The event it carries.")
    message_id: str = strawberry.field(description="Its `webhook-id` header, on every try.")

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> "DeliveryType":
        return cls(
            status=DeliveryStatus(delivery.status),
            attempts=delivery.attempts,
            responded_with=delivery.responded_with or None,
            at=delivery.last_attempt_at or delivery.created_at,
            event=WebhookEvent(delivery.event),
            message_id=delivery.message_id,
        )


@strawberry.type(name="Webhook", description="A signed HTTP callback for your files' events.")
class WebhookType:
    id: strawberry.ID = strawberry.field(description="What `deleteWebhook` takes.")
    url: str = strawberry.field(description="Where its deliveries are POSTed.")
    events: list[WebhookEventEnum] = strawberry.field(description="What it hears of.")
    created_at: datetime
    last_delivery: DeliveryType | None = strawberry.field(
        description="The latest event sent (or being sent) to it; null before the first."
    )

    @classmethod
    def of(cls, webhook: Webhook, last: WebhookDelivery | None) -> "WebhookType":
        return cls(
            id=encode_webhook_id(webhook.pk),
            url=webhook.url,
            events=[WebhookEvent(event) for event in webhook.events],
            created_at=webhook.created_at,
            last_delivery=DeliveryType.of(last) if last else None,
        )


@strawberry.type(description="A new webhook and its signing secret.")
class CreateWebhookPayload:
    webhook: WebhookType
    secret: str = strawberry.field(
        description=(
            "The signing secret (`whsec_…`), shown this once: verify each delivery with it "
            "(Standard Webhooks). Only an encrypted copy is kept."
        )
    )


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Your webhooks (staff too: your own only), oldest first.")
    def webhooks(self, info: strawberry.Info) -> list[WebhookType]:
        hooks = list(selectors.webhook_list(user=get_current_user(info)))
        last = selectors.webhook_last_deliveries(webhooks=hooks)
        return [WebhookType.of(hook, last.get(hook.pk)) for hook in hooks]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description=(
            "Register a URL to receive your files' events as signed POSTs. Refused "
            "(WEBHOOK_DESTINATION_REFUSED) when its host resolves to a private address; "
            "WEBHOOK_LIMIT_REACHED past WEBHOOK_MAX_PER_USER."
        )
    )
    def create_webhook(
        self, info: strawberry.Info, url: str, events: list[WebhookEventEnum]
    ) -> CreateWebhookPayload:
        created = services.webhook_create(user=get_current_user(info), url=url, events=events)
        return CreateWebhookPayload(
            webhook=WebhookType.of(created.webhook, None), secret=created.secret
        )

    @strawberry.mutation(
        description="Delete a webhook of yours: nothing more is sent to it. Returns its id."
    )
    def delete_webhook(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        deleted = services.webhook_delete(
            user=get_current_user(info), webhook_id=decode_webhook_id(id)
        )
        return encode_webhook_id(deleted)
