"""Webhooks, after the Standard Webhooks specification (docs/webhooks.md).

A user registers a URL and the events it wants (`webhook_create`, which shows the signing
secret once); when one of their files reaches DONE or FAILED, or is deleted, each of their
webhooks listening for it gets a delivery (`webhook_deliveries_create`, run after the change
commits). The delivery's body is fixed then; a Celery task sends it (`webhook_deliver`), never
the request or the processing task, signed with the webhook's secret under the spec's
headers. A try that is not answered 2xx within WEBHOOK_TIMEOUT_SECONDS is sent again, with the
same `webhook-id`, after WEBHOOK_RETRY_BASE_SECONDS, then twice as long each time, until
WEBHOOK_RETRY_FOR_SECONDS have passed since the first: then the delivery is FAILED.

Only the file's owner's webhooks hear of it: staff, who see everyone's files in the API, get
no one else's events (a webhook is a standing export, not a view).
"""

import base64
import json
import logging
import secrets
import ssl
import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from standardwebhooks.webhooks import Webhook as Signer

from .. import destinations, dispatch, selectors
from ..exceptions import BadUserInput, WebhookDestinationRefused, WebhookLimitReached
from ..models import DeliveryStatus, FileStatus, Webhook, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "live-files-webhooks/1"
# Past its deadline, a try still counts as claimed this much longer (clock slack).
CLAIM_MARGIN_SECONDS = 5.0
# A due try still not taken this long after its time was lost: the sweep queues it again.
RECOVER_AFTER_SECONDS = 60.0
RECOVER_BATCH = 1000
# The file's public state as a delivery's `data`: the GraphQL File's fields, by their names.
DATA_FIELDS = {
    "name": "name",
    "size": "size",
    "kind": "kind",
    "content_type": "contentType",
    "status": "status",
    "sha256": "sha256",
    "error": "error",
    "failure_code": "failureCode",
    "uploaded_at": "uploadedAt",
    "processed_at": "processedAt",
    "version": "version",
    "deleted": "deleted",
}
EVENT_OF_STATUS = {
    FileStatus.DONE: WebhookEvent.FILE_DONE,
    FileStatus.FAILED: WebhookEvent.FILE_FAILED,
}


class CreatedWebhook(NamedTuple):
    webhook: Webhook
    secret: str  # whsec_…: shown this once, stored only encrypted


def secret_box() -> MultiFernet:
    """Encrypts with a key derived from SECRET_KEY; decrypts with it or a SECRET_KEY_FALLBACKS
    key, so a rotated SECRET_KEY keeps existing webhooks signing."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(__name__, "secrets", secret=key, algorithm="sha256").digest()
                )
            )
            for key in keys
        ]
    )


def webhook_secret(webhook: Webhook) -> str:
    return secret_box().decrypt(webhook.secret_encrypted.encode()).decode()


def webhook_create(*, user, url: str, events: list[str]) -> CreatedWebhook:
    selectors.require_user(user)
    wanted = {WebhookEvent(event) for event in events}
    chosen = [event.value for event in WebhookEvent if event in wanted]  # the enum's order
    if not chosen:
        raise BadUserInput("Name at least one event: FILE_DONE, FILE_FAILED or FILE_DELETED.")
    url = url.strip()
    destinations.check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES)
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
    with transaction.atomic():
        # Counted under the user's row lock: two creations at once cannot both pass the cap.
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        if selectors.webhook_count(user=user) >= settings.WEBHOOK_MAX_PER_USER:
            raise WebhookLimitReached(
                f"You have {settings.WEBHOOK_MAX_PER_USER} webhooks, the most a user may have: "
                "delete one first."
            )
        webhook = Webhook.objects.create(
            owner=user,
            url=url,
            events=chosen,
            secret_encrypted=secret_box().encrypt(secret.encode()).decode(),
        )
    webhook.last_delivery_id = None
    return CreatedWebhook(webhook, secret)


def webhook_delete(*, user, webhook_id) -> uuid.UUID:
    """Deletes the webhook and its deliveries: a retry still queued finds nothing to send."""
    webhook = selectors.webhook_get(user=user, webhook_id=webhook_id)
    webhook.delete()
    return webhook_id if isinstance(webhook_id, uuid.UUID) else uuid.UUID(str(webhook_id))


def file_global_id(file_id: str) -> str:
    """The API's global id of a file (`schema/graphql/ids.py` reads it back): Relay's
    base64 of `File:<uuid>`."""
    return base64.b64encode(f"File:{file_id}".encode()).decode()


def delivery_body(event: str, state: dict, at: datetime) -> str:
    data = {"id": file_global_id(state["id"])}
    data.update({name: state.get(field) for field, name in DATA_FIELDS.items()})
    for empty_is_null in ("sha256", "error", "failureCode"):
        data[empty_is_null] = data[empty_is_null] or None
    return json.dumps(
        {"type": event, "timestamp": at.isoformat(), "data": data}, separators=(",", ":")
    )


def event_of(state: dict) -> str | None:
    if state.get("deleted"):
        # A file that never had its bytes (an abandoned direct or tus upload) was never news.
        return None if state["status"] == FileStatus.AWAITING_UPLOAD else WebhookEvent.FILE_DELETED
    return EVENT_OF_STATUS.get(state["status"])


def webhook_deliveries_create(*, state: dict) -> list[WebhookDelivery]:
    """After a file's change committed: a delivery for each of its owner's webhooks that
    listens for the event, queued for a worker. Called from `transaction.on_commit`; after
    DONE or FAILED only when the change found its owner had a webhook (`transition`)."""
    event = event_of(state)
    if event is None:
        return []
    at = timezone.now()
    body = delivery_body(event, state, at)
    created = []
    for webhook in selectors.webhooks_listening(owner_id=state["owner_id"], event=event):
        delivery_id = uuid.uuid4()
        created.append(
            WebhookDelivery.objects.create(
                id=delivery_id,
                webhook=webhook,
                event=event,
                message_id=f"msg_{delivery_id.hex}",
                body=body,
                next_attempt_at=at,
            )
        )
        dispatch.webhook_delivery_enqueue(delivery_id=delivery_id)
    return created


def retry_delay(attempts: int) -> float:
    """Seconds before the try after try number `attempts` (1, 2, …): base, 2 × base, …"""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def claim(delivery_id) -> WebhookDelivery | None:
    """The delivery, if a try is due and no other worker holds it: the claim moves its next
    try past this one's deadline, so a duplicate message (a redelivery, a recovered one)
    finds nothing due. One UPDATE, so two workers cannot both win."""
    now = timezone.now()
    hold = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + CLAIM_MARGIN_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + hold, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()


def signed_headers(delivery: WebhookDelivery, secret: str, at: datetime) -> dict[str, str]:
    """The spec's headers, signed afresh for each try (receivers refuse old timestamps)."""
    signature = Signer(secret).sign(delivery.message_id, at, delivery.body.encode())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def send(delivery: WebhookDelivery) -> tuple[bool, str, str]:
    """One try: (answered 2xx, what happened in words, the answer's start)."""
    try:
        secret = webhook_secret(delivery.webhook)
    except InvalidToken:
        return False, "secret unreadable: SECRET_KEY changed without a fallback", ""
    headers = signed_headers(delivery, secret, timezone.now())
    try:
        answer = destinations.post(
            delivery.webhook.url,
            delivery.body.encode(),
            headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=settings.WEBHOOK_RESPONSE_MAX_BYTES,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
        )
    except WebhookDestinationRefused as refused:
        return False, f"refused: {refused.message}"[:255], ""
    except OSError as error:
        return False, failure_words(error)[:255], ""
    excerpt = answer.excerpt.decode("utf-8", "replace")
    return 200 <= answer.status < 300, f"HTTP {answer.status}", excerpt


def failure_words(error: OSError) -> str:
    """A try's failure as its owner reads it in `respondedWith`."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error}"
    if isinstance(error, TimeoutError):
        return str(error) or "no answer in time"
    return error.strerror or str(error) or type(error).__name__


def webhook_deliver(*, delivery_id) -> WebhookDelivery | None:
    """One try of a due delivery; schedules the next one, or gives up. None when nothing was
    due (sent already, not yet due, held by another worker, or its webhook deleted)."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    succeeded, responded_with, excerpt = send(delivery)
    now = timezone.now()
    delay = retry_delay(delivery.attempts)
    gives_up = now + timedelta(seconds=delay) - delivery.created_at > timedelta(
        seconds=settings.WEBHOOK_RETRY_FOR_SECONDS
    )
    if succeeded:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.FAILED if gives_up else DeliveryStatus.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        responded_with=responded_with,
        response_excerpt=excerpt,
        next_attempt_at=now + timedelta(seconds=delay),
    )
    logger.info(
        "Webhook delivery %s, try %d: %s (%s)",
        delivery.message_id,
        delivery.attempts,
        responded_with,
        status,
        extra={"webhook_id": str(delivery.webhook_id)},
    )
    if status == DeliveryStatus.PENDING:
        dispatch.webhook_delivery_enqueue(delivery_id=delivery.pk, countdown=delay)
    delivery.status, delivery.responded_with = status, responded_with
    return delivery


def webhook_deliveries_recover() -> int:
    """Queue again the deliveries whose try is overdue by more than a claim's hold: their
    message was lost (a broker restart, a worker killed before it acknowledged). A try
    queued twice is sent once (`claim`)."""
    overdue = timezone.now() - timedelta(
        seconds=settings.WEBHOOK_TIMEOUT_SECONDS + CLAIM_MARGIN_SECONDS + RECOVER_AFTER_SECONDS
    )
    lost = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=overdue
        ).values_list("pk", flat=True)[:RECOVER_BATCH]
    )
    for delivery_id in lost:
        dispatch.webhook_delivery_enqueue(delivery_id=delivery_id)
    return len(lost)


def webhook_deliveries_prune(*, now=None) -> int:
    """Delete finished deliveries older than WEBHOOK_DELIVERIES_KEPT_DAYS: the table would
    otherwise grow by one row per event and webhook for ever."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_DELIVERIES_KEPT_DAYS)
    finished = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
    return WebhookDelivery.objects.filter(status__in=finished, created_at__lt=cutoff).delete()[0]
