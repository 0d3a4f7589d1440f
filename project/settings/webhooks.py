"""Webhooks (docs/webhooks.md): where deliveries may go, how long one may take, how often a
failed one is tried again, and how many webhooks a user may have."""

import os

from project.settings.env import KIB, env_bool, env_float, env_int
from project.settings.processing import CELERY_BEAT_SCHEDULE

# Destinations that resolve to a loopback, private, link-local, shared or metadata address are
# refused, at creation and at every delivery; 1 allows them (local development, the tests).
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)
# A delivery not answered within this many seconds (connecting included) is a failed attempt.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
# At most this much of a receiver's answer is read (kept for the admin); the rest is dropped.
WEBHOOK_RESPONSE_MAX_BYTES = env_int("WEBHOOK_RESPONSE_MAX_BYTES", 4 * KIB)
# A failed attempt is tried again after this many seconds, then twice as long each time, for
# as long as the first attempt is less than WEBHOOK_RETRY_FOR_SECONDS old; then FAILED.
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 5.0)
WEBHOOK_RETRY_FOR_SECONDS = env_float("WEBHOOK_RETRY_FOR_SECONDS", 24 * 3600.0)
# Finished deliveries (SUCCEEDED or FAILED) are deleted this many days after their event.
WEBHOOK_DELIVERIES_KEPT_DAYS = env_int("WEBHOOK_DELIVERIES_KEPT_DAYS", 30)
# Webhooks one user may have at once.
WEBHOOK_MAX_PER_USER = env_int("WEBHOOK_MAX_PER_USER", 10)
# The Celery queue deliveries are sent to; empty: the default queue, which `celery worker`
# consumes. A queue of their own keeps slow receivers from delaying processing.
WEBHOOK_DELIVERY_QUEUE = os.environ.get("WEBHOOK_DELIVERY_QUEUE", "")
# Deliveries whose message was lost (a broker restart) are queued again by this sweep, which
# also deletes the finished ones past WEBHOOK_DELIVERIES_KEPT_DAYS.
CELERY_BEAT_SCHEDULE["recover-webhook-deliveries"] = {
    "task": "files_app.recover_webhook_deliveries",
    "schedule": 60.0,
}
