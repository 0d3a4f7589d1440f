"""Uploads in flight: what a request writing an upload's bytes holds while it runs, as an
`UploadReservation` row (a multipart POST, a tus PATCH, a direct upload's completion).

- **Bytes.** A multipart POST reserves, before one byte of its body is read, the most it may
  write: its declared length, or (no Content-Length) all the quota leaves. The quota counts
  stored bytes plus every live reservation, under the lock on the user's row, so uploads
  running at once can't together pass it: each one is checked against what the others hold,
  not against the quota as it stood when it started.
- **How many at once.** At most UPLOAD_MAX_CONCURRENT_PER_USER live reservations per user
  (multipart POSTs and tus PATCHes; a completion is not counted).
- **One writer.** A reservation that names a file is that upload's only writer (a unique
  column): a second PATCH, a DELETE or the expiry sweep finds it and leaves the upload alone.

Each request renews its reservation every third of UPLOAD_RESERVATION_SECONDS and deletes it
when it ends, however it ends; one left by a web process that died stops counting once
`expires_at` passes (the database's clock) and the recovery sweep deletes it. A request whose
reservation lapsed (its process froze that long) has lost it: `Reservation.held` says so on
the request's own clock, so a writer stops before its next write without asking the database.

Why rows rather than a Redis counter: the other half of the quota, the stored bytes, is rows.
Counted in one transaction under one lock, an upload's bytes pass from "in flight" to
"stored" without being counted twice or not at all; uploads keep working while Redis is away
(docs/reliability.md, 3); and SQLite, the embedded default, needs nothing more. A row lock
held for the whole request would do for one writer on PostgreSQL, but it would pin a database
connection (of DATABASE_THREADS) per upload, and on SQLite lock the whole database.
"""

import contextlib
import math
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Now

from ..exceptions import RateLimited, UploadLocked
from ..models import File, UploadReservation
from .fair_share import user_lock
from .upload import upload_allowance

LIVE = Q(expires_at__gt=Now())
LOST = "This request lost its turn to write the upload (it was too slow); send the rest again."


@dataclass
class Reservation:
    """What one request holds. `pk` None: nothing was reserved (no quota and no cap)."""

    pk: uuid.UUID | None
    bytes: int
    released: bool = False
    # What the request may write and how many files it may send (None: no quota, no rate).
    bytes_left: int | None = None
    files_left: int | None = None
    held_until: float = math.inf  # time.monotonic() before which it is certainly held

    def held(self) -> bool:
        return time.monotonic() < self.held_until

    def hold(self) -> None:
        """Raise UploadLocked once the reservation may have lapsed: checked before each
        write, so a request that froze past its reservation writes nothing more."""
        if not self.held():
            raise UploadLocked(LOST)


@contextlib.contextmanager
def ephemeral():
    """A transaction for reservation rows only, whose commit on PostgreSQL does not wait for
    its WAL to reach the disk (`synchronous_commit` off for it alone): what a crash of the
    database could lose is a reservation of a request that fails with it anyway, and the
    wait would be most of what reserving adds to a small upload. Locks and visibility are as
    for any transaction. (SQLite, in WAL mode with synchronous=NORMAL, never waits.)"""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def reservation_end():
    """On the database's clock, as leases are (lease.py): every web process shares it."""
    return Now() + timedelta(seconds=settings.UPLOAD_RESERVATION_SECONDS)


def held_from(started: float) -> float:
    """The monotonic time until which a reservation set after `started` is still live: the
    database set its end later than our `started`, so this errs on the early side."""
    return started + settings.UPLOAD_RESERVATION_SECONDS


def check_concurrent_uploads(*, owner_id, in_flight: int | None = None) -> None:
    """`in_flight`: the user's live reservations, if the caller counted them already."""
    cap = settings.UPLOAD_MAX_CONCURRENT_PER_USER
    if not cap:
        return
    if in_flight is None:
        in_flight = UploadReservation.objects.filter(LIVE, owner_id=owner_id).count()
    if in_flight >= cap:
        raise RateLimited(
            f"At most {cap} of your uploads can be sent at once; wait for one to finish."
        )


def upload_reserve(*, owner, size: int | None) -> Reservation:
    """Before a multipart POST's body is read: reserve `size` bytes (None: all the quota
    leaves), or raise RateLimited (the rate, or too many uploads at once) or QuotaExceeded
    (nothing left). What is reserved is at most what the quota leaves: the ingress refuses
    the request where its files pass it."""
    if not (
        settings.STORAGE_QUOTA
        or settings.UPLOAD_MAX_CONCURRENT_PER_USER
        or settings.UPLOAD_RATE_LIMIT_PER_MINUTE
    ):
        return Reservation(pk=None, bytes=size or 0)
    started = time.monotonic()
    with ephemeral():
        user_lock(user_id=owner.pk)
        allowance = upload_allowance(owner=owner)
        check_concurrent_uploads(owner_id=owner.pk, in_flight=allowance.uploads_in_flight)
        wanted = size if size is not None else (allowance.bytes or 0)
        reserved = wanted if allowance.bytes is None else min(wanted, allowance.bytes)
        row = UploadReservation.objects.create(
            owner=owner, bytes=reserved, expires_at=reservation_end()
        )
    return Reservation(
        pk=row.pk,
        bytes=reserved,
        bytes_left=None if allowance.bytes is None else reserved,
        files_left=allowance.files,
        held_until=held_from(started),
    )


def upload_writer_claim(*, file: File, counted: bool = True) -> Reservation:
    """Make this request the upload's only writer, or raise UploadLocked (another request
    writes it now) or RateLimited (`counted`: too many uploads at once). Its bytes are not
    reserved: the file's row counts them at their declared size from its creation."""
    started = time.monotonic()
    with ephemeral():
        user_lock(user_id=file.owner_id)
        UploadReservation.objects.filter(file=file, expires_at__lte=Now()).delete()
        if UploadReservation.objects.filter(file=file).exists():
            raise UploadLocked()
        if counted:
            check_concurrent_uploads(owner_id=file.owner_id)
        row = UploadReservation.objects.create(
            owner_id=file.owner_id, file=file, expires_at=reservation_end()
        )
    return Reservation(pk=row.pk, bytes=0, held_until=held_from(started))


def upload_writer_live(*, file_id) -> bool:
    """Whether a request writes this upload now (a tus DELETE and the expiry sweep wait)."""
    return UploadReservation.objects.filter(LIVE, file_id=file_id).exists()


def upload_reservation_hold(*, reservation: Reservation) -> None:
    """In the transaction that records what the request wrote: raise UploadLocked unless its
    reservation is still live, and keep it (locked) until that transaction ends."""
    if reservation.pk is None:
        return
    live = UploadReservation.objects.select_for_update().filter(LIVE, pk=reservation.pk)
    if not live.exists():
        reservation.held_until = 0.0
        raise UploadLocked(LOST)


def upload_reservation_renew(*, reservation: Reservation) -> bool:
    """Push the reservation's end on; False (and `held` false from then on) once it lapsed
    or is gone: one that lapsed is not taken back, since others may hold its bytes now."""
    if reservation.pk is None:
        return True
    started = time.monotonic()
    with ephemeral():
        renewed = UploadReservation.objects.filter(LIVE, pk=reservation.pk).update(
            expires_at=reservation_end()
        )
    reservation.held_until = held_from(started) if renewed else 0.0
    return bool(renewed)


def upload_reservation_release(*, reservation: Reservation) -> None:
    if reservation.pk is not None:
        with ephemeral():
            UploadReservation.objects.filter(pk=reservation.pk).delete()
    reservation.released = True


def upload_reservations_prune() -> int:
    """The recovery sweep: delete the reservations of requests that died; returns how many."""
    return UploadReservation.objects.filter(expires_at__lte=Now()).delete()[0]
