"""One `fileUpdates` subscription from its start to the moment the live hub serves it alone
(schema/live/hub.py)."""

from channels.db import database_sync_to_async

from files_app import events, selectors

from .hub import current_operation, get
from .subscriber import Subscriber


async def file_updates(*, user, consumer, wanted: set | None):
    """One `fileUpdates` subscription of `consumer`'s viewer `user`: the current state of the
    `wanted` files (None: no file listed, only changes of all of them), then their changes.

    The groups (the connection's `viewer_groups`, checked again every
    WEBSOCKET_REVALIDATE_SECONDS by schema/live/websocket.py, and against each event as it goes
    out) are joined *before* the current state is read, so an update committed in between
    is not lost; it may arrive twice instead, and the version check drops the copy and
    anything older than what was already sent. Events that arrive while the current state is
    read and sent wait behind it, so a client never gets a file's state older than one it
    already has. Under graphql-transport-ws the hub writes each event to the socket itself
    (one execution per class of subscribers): once the current state has gone out this hands
    the subscription to the connection's handler and returns, so no task holds it
    (schema/live/transport.py); under the older graphql-ws the events are yielded."""
    subscriber = Subscriber(
        consumer,
        current_operation.get(),
        {str(file_id) for file_id in wanted} if wanted is not None else None,
    )
    if wanted:
        subscriber.hold()  # events wait behind the current state (see Subscriber.on_hold)
    live = get()
    await live.add(subscriber)
    try:
        if wanted:
            current = await database_sync_to_async(selectors.file_get_many)(
                user=user, file_ids=wanted
            )
            for file in current:
                subscriber.mark_sent(str(file.pk), file.version)
                yield file
            # Resumed once Strawberry has sent the last of them.
            subscriber.release()
        if subscriber.operation is not None:
            # From here the hub writes its events; the operation ends with the client's
            # `complete` or its socket (TransportWSHandler.cleanup_operation).
            subscriber.operation.handler.hold(subscriber.operation, subscriber)
            return
        async for state in subscriber.items():
            yield events.file_from_state(state)
    except BaseException:
        await live.remove(subscriber)
        raise
