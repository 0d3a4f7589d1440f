"""What a web process keeps one of, per event loop: the live hub, the revalidation loop, the
batch of connections to uncount."""

import asyncio

_loop_locals: dict[tuple, object] = {}


def loop_local(factory):
    """`factory()`'s one instance for the running event loop: one per web process, since
    uvicorn runs one loop (tests run several, one after another)."""
    loop = asyncio.get_running_loop()
    for stale in [key for key in _loop_locals if key[0].is_closed()]:
        del _loop_locals[stale]
    key = (loop, factory)
    if key not in _loop_locals:
        _loop_locals[key] = factory()
    return _loop_locals[key]
