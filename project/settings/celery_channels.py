"""Redis, Celery's broker, the Channels layer and the events publisher, and the websockets
live events reach."""

import os

from project.settings.env import MIB, env_float, env_int, env_list

EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6390)
REDIS_URL = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

# --- Celery --------------------------------------------------------------------------------
# Redis (the default) or RabbitMQ (amqp://user:password@host:5672/vhost), Celery's most robust
# broker. A task is acknowledged once it ran (acks_late), handed back if its pool process dies
# (reject_on_worker_lost), and a worker reserves one task at a time (prefetch 1), so a file
# waits for any free worker rather than behind a busy one.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
BROKER_IS_RABBITMQ = CELERY_BROKER_URL.split(":", 1)[0] in {"amqp", "amqps", "pyamqp"}
CELERY_RESULT_BACKEND = None  # results live in the File row, not in Celery
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if BROKER_IS_RABBITMQ:
    # RabbitMQ redelivers a dead worker's unacknowledged task as soon as its connection drops
    # (another worker then takes the file over: processing.py, `file_start_processing`), and
    # publisher confirms make a publish the broker refused raise instead of vanishing. Keep
    # RabbitMQ's consumer_timeout (30 min by default) above PROCESSING_SOFT_TIME_LIMIT.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    # A worker cut off from the broker stops the runs it can no longer acknowledge, since
    # their tasks are already going to another worker.
    CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
    # Recovered files first (below): a queue holds priorities only if declared so, and a
    # queue's arguments never change, so the queue has a name of its own, declared with
    # x-max-priority (RabbitMQ: the higher, the sooner).
    CELERY_TASK_DEFAULT_QUEUE = "files"
    CELERY_TASK_QUEUE_MAX_PRIORITY = 9
    CELERY_TASK_DEFAULT_PRIORITY = 0
    RECOVERED_FILE_PRIORITY = 9
else:
    # Redis hands a dead worker's unacknowledged task out again only after this timeout.
    # Priorities (Redis, kombu: the lower, the sooner) are a list per step, and a worker
    # pops the first list that holds a task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "priority_steps": [0, 9],
        "queue_order_strategy": "priority",
    }
    CELERY_TASK_DEFAULT_PRIORITY = 9
    RECOVERED_FILE_PRIORITY = 0
# A file the recovery sweep queues again (its worker died) goes before every file queued
# meanwhile: it has waited out its lease already (docs/operations.md, "Recovered files").
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection after every task unless told to reuse
# it (then it closes it every 2 × this many tasks); project/celery.py checks the kept one
# before each task instead.
CELERY_DB_REUSE_MAX = 1_000_000

# --- Channels ------------------------------------------------------------------------------
# Messages waiting for one process before channels-redis drops new ones: it keeps all of a
# process's channels in one Redis queue (in a web process, the live hub's: schema/live/hub.py).
CHANNEL_LAYER_CAPACITY = env_int("CHANNEL_LAYER_CAPACITY", 1000)
CHANNEL_LAYER_MAX_CONNECTIONS = env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000)
# A group membership older than this is dropped by channels-redis. Each web process's live
# hub refreshes its own (schema/live/hub.py); a killed web process's are gone after this long.
CHANNEL_LAYER_GROUP_EXPIRY = env_int("CHANNEL_LAYER_GROUP_EXPIRY", 3600)
# Redis servers the channel layer shards across (comma-separated URLs): each group lives on
# the server its name hashes to, each process's channel on the one its name hashes to, so
# every web process and worker must list the same servers in the same order.
CHANNEL_REDIS_HOSTS = env_list("CHANNEL_REDIS_HOSTS") or [REDIS_URL]
# channels-redis's layer, sending an event to all its groups in one round trip (one Redis;
# sharded, group by group as channels-redis does: schema/live/layer.py).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "schema.live.layer.ChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": address,
                    # redis-py 8 defaults to a 5 s socket timeout, which kills the blocking
                    # reads of an idle subscriber (channels_redis#422).
                    "socket_timeout": None,
                    "socket_connect_timeout": 5,
                    "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                }
                for address in CHANNEL_REDIS_HOSTS
            ],
            "capacity": CHANNEL_LAYER_CAPACITY,
            "expiry": 60,
            "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX") or "filesvc",
        },
    }
}

# How a file's changes reach subscribers: a function taking the file's public state. The
# domain (files_app/events.py) calls it after every committed change; this one sends it over
# the Channels layer to the websocket consumers (schema/live/channel.py).
FILE_EVENTS_PUBLISHER = "schema.live.channel.publish"

# --- Websockets ----------------------------------------------------------------------------
# Browser pages on other origins that may open the GraphQL websocket with the user's cookies.
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS")
# How often an open websocket checks its credentials again (logout, a deleted or expired
# token, a deactivated user, lost rights): the longest it keeps receiving after that.
WEBSOCKET_REVALIDATE_SECONDS = env_float("WEBSOCKET_REVALIDATE_SECONDS", 30)
# Open websockets one user may hold across all web processes (counted in Redis).
WEBSOCKET_MAX_CONNECTIONS_PER_USER = env_int("WEBSOCKET_MAX_CONNECTIONS_PER_USER", 20)
# Live events one subscription may have waiting for a client that does not read (progress
# of a file is merged, so these are mostly status changes); past it the connection is closed
# with 1013 and the client reconnects (schema/live/hub.py).
WEBSOCKET_OUTBOX_LIMIT = env_int("WEBSOCKET_OUTBOX_LIMIT", 500)
# What one websocket may hold on its way out, in bytes: its subscriptions' outboxes and the
# socket's write buffer together (schema/live/subscriber.py). Past it the socket is dropped at
# once, without a close handshake (a client that stopped reading would never get one). At
# least two answers' worth (GRAPHQL_MAX_ANSWER_BYTES), so one big event fits.
WEBSOCKET_MAX_BUFFERED_BYTES = env_int("WEBSOCKET_MAX_BUFFERED_BYTES", 8 * MIB)
