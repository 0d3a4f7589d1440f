"""docs/reliability.md items 40–41, webhooks: signed, retried with the same id and then given
up, heard only by the file's owner; private destinations refused at creation and at send."""

from tools.protections.paths import (
    DESTINATIONS,
    SELECTORS,
    STATEMENTS,
    WEBHOOK_TESTS,
    WEBHOOKS,
)
from tools.protections.runner import Protection

DELIVERED = f"{WEBHOOK_TESTS}::test_a_done_file_is_delivered_signed_with_its_public_state"
RETRIED = f"{WEBHOOK_TESTS}::test_a_5xx_is_retried_with_backoff_and_the_same_webhook_id"
TIMED_OUT = f"{WEBHOOK_TESTS}::test_a_receiver_that_does_not_answer_in_time_gets_the_delivery_again"
GIVEN_UP = f"{WEBHOOK_TESTS}::test_a_delivery_that_never_succeeds_is_failed_after_the_retry_period"
OWNERS = f"{WEBHOOK_TESTS}::test_each_owner_hears_only_of_their_own_files_staff_included"
NO_QUERY = (
    f"{WEBHOOK_TESTS}::test_a_file_of_an_owner_without_webhooks_costs_the_worker_no_webhook_query"
)

PROTECTIONS = [
    Protection(
        "40 webhook deliveries are signed over their body",
        [
            (
                WEBHOOKS,
                "Signer(secret).sign(delivery.message_id, at, delivery.body.encode())",
                'Signer(secret).sign(delivery.message_id, at, b"")',
            )
        ],
        [DELIVERED],
    ),
    Protection(
        "40 webhooks hear only of their owner's files",
        [
            (
                SELECTORS,
                "for hook in Webhook.objects.filter(owner_id=owner_id) if",
                "for hook in Webhook.objects.all() if",
            )
        ],
        [OWNERS],
    ),
    Protection(
        "40 a file's change reads whether its own owner has a webhook: one who has still hears",
        [
            (
                STATEMENTS,
                "WHERE {webhooks}.{owner} = {files}.{owner})",
                "WHERE {webhooks}.{owner} <> {files}.{owner})",
            )
        ],
        [DELIVERED, NO_QUERY],
    ),
    Protection(
        "40 a failed webhook delivery is tried again",
        [
            (
                WEBHOOKS,
                "dispatch.webhook_delivery_enqueue(delivery_id=delivery.pk, countdown=delay)",
                "pass",
            )
        ],
        [RETRIED, TIMED_OUT],
    ),
    Protection(
        "40 every try of a webhook delivery has the same webhook-id",
        [
            (
                WEBHOOKS,
                '"webhook-id": delivery.message_id,',
                '"webhook-id": f"msg_{uuid.uuid4().hex}",',
            )
        ],
        [RETRIED],
    ),
    Protection(
        "40 a webhook delivery is given up after WEBHOOK_RETRY_FOR_SECONDS",
        [
            (
                WEBHOOKS,
                "status = DeliveryStatus.FAILED if gives_up else DeliveryStatus.PENDING",
                "status = DeliveryStatus.PENDING",
            )
        ],
        [GIVEN_UP],
    ),
    Protection(
        "41 a private webhook destination is refused at creation",
        [
            (
                WEBHOOKS,
                "destinations.check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES)",
                "destinations.parse(url)",
            )
        ],
        [f"{WEBHOOK_TESTS}::test_a_private_destination_is_refused_at_creation"],
    ),
    Protection(
        "41 a private webhook destination is refused at send",
        [
            (
                DESTINATIONS,
                "addresses = resolve(destination, allow_private=allow_private)",
                "addresses = resolve(destination, allow_private=True)",
            )
        ],
        [f"{WEBHOOK_TESTS}::test_a_destination_private_when_sent_is_refused_then"],
    ),
    Protection(
        "41 a webhook try has one deadline for the whole exchange",
        [(DESTINATIONS, "        deadline.start()\n", "")],
        [f"{WEBHOOK_TESTS}::test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_deadline"],
    ),
    Protection(
        "40 a webhook delivery whose message was lost is sent by the sweep",
        [(WEBHOOKS, "for delivery_id in lost:", "for delivery_id in []:")],
        [f"{WEBHOOK_TESTS}::test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep"],
    ),
    Protection(
        "40 a webhook try is claimed once: a duplicate message sends nothing",
        [
            (
                WEBHOOKS,
                "pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now",
                "pk=delivery_id, status=DeliveryStatus.PENDING",
            )
        ],
        [f"{WEBHOOK_TESTS}::test_a_closed_port_is_a_failed_try_said_in_words"],
    ),
]
