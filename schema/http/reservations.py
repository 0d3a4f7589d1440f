"""An upload's reservation (files_app/services/reservations.py) kept while its request runs:
renewed every third of UPLOAD_RESERVATION_SECONDS by a task beside the request, and released
when the request ends, however it ends (answered, refused, the client gone, cancelled). A
web process that dies releases nothing: its reservations stop counting when they expire.
Its database work runs on the database threads (schema/http/transport.py)."""

import asyncio
import contextlib
import logging

from django.conf import settings

from files_app import services

from .transport import with_database

logger = logging.getLogger(__name__)


def renew(reservation: services.Reservation) -> bool:
    return services.upload_reservation_renew(reservation=reservation)


def release(reservation: services.Reservation) -> None:
    services.upload_reservation_release(reservation=reservation)


async def keep_renewed(reservation: services.Reservation) -> None:
    while True:
        await asyncio.sleep(settings.UPLOAD_RESERVATION_SECONDS / 3)  # a schedule
        try:
            if not await with_database(renew)(reservation):
                return  # lapsed: the writer sees it (`held`) and stops
        except Exception:  # the database away for a moment: the next round may get through
            logger.warning("Could not renew an upload's reservation", exc_info=True)


@contextlib.asynccontextmanager
async def kept(reservation: services.Reservation):
    if reservation.pk is None:
        yield reservation
        return
    renewing = asyncio.create_task(keep_renewed(reservation))
    try:
        yield reservation
    finally:
        renewing.cancel()
        try:
            if not reservation.released:  # else done in the request's last database hop
                await with_database(release)(reservation)
        except Exception:  # it expires by itself
            logger.warning("Could not release an upload's reservation", exc_info=True)
