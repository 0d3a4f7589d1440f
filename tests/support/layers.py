"""Channel layers of a test's own, and the Redis commands they send."""

import contextlib
import inspect
import uuid

from django.conf import settings

from schema.live.layer import ChannelLayer


def make_layer(**config) -> ChannelLayer:
    """A layer of its own (its pools on the test's loop), under a prefix of its own."""
    base = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return ChannelLayer(**{**base, "prefix": f"layer-{uuid.uuid4().hex[:8]}", **config})


@contextlib.contextmanager
def counting(client):
    """The names of the commands `client` (redis-py, blocking or asyncio) sends meanwhile."""
    sent = []
    execute = client.execute_command
    if inspect.iscoroutinefunction(execute):

        async def counted(*args, **options):
            sent.append(args[0])
            return await execute(*args, **options)
    else:

        def counted(*args, **options):
            sent.append(args[0])
            return execute(*args, **options)

    client.execute_command = counted
    try:
        yield sent
    finally:
        del client.execute_command
