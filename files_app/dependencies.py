"""Whether the services the domain depends on answer: the database, the broker and the file
storage, each checked with a short timeout (blocking: run them in a thread). A check raises
when its dependency is down; callers report the dependency's name, never the error, which
can name hosts, paths or users.
"""

import os
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connections

from . import storage


def database_check() -> None:
    """A round trip on a connection of this thread's own, closed afterwards: the caller's
    thread is a probe thread, not one whose connection is kept between requests."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def broker_queue_length(*, timeout: float) -> int:
    """Tasks waiting in the default queue (0 when the queue does not exist yet). Raises when
    the broker does not answer within `timeout` seconds."""
    queue = current_app.conf.task_default_queue
    with current_app.connection_for_read(
        connect_timeout=timeout,
        transport_options={
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "max_retries": 0,
        },
    ) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout)
        channel = connection.default_channel
        try:
            return channel.queue_declare(queue=queue, passive=True).message_count
        except connection.channel_errors:  # no such queue yet (a fresh RabbitMQ)
            return 0


def broker_check(*, timeout: float) -> None:
    broker_queue_length(timeout=timeout)


def storage_check(*, timeout: float) -> None:
    """The bucket answers (S3), or MEDIA_ROOT is (or can be made) a directory this process
    can write in."""
    if storage.is_s3():
        storage.bucket_check(timeout=timeout)
        return
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)  # as the first upload would
    if not os.access(media, os.W_OK | os.X_OK):
        raise OSError("The media folder is missing or not writable.")
