"""Storage integrity: bytes without a row, and rows without their bytes.

The same on local disk and S3: names are listed through the storage API, and the in-flight
margin compares each one's modified time (an object's LastModified on S3). On S3, multipart
uploads left unfinished by a web process that died mid-upload are listed and aborted too."""

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from .. import storage
from ..failures import FailureCode
from ..models import (
    INCOMING_FOLDER,
    STAGING_FOLDER,
    File,
    FileStatus,
    ResumableUpload,
    staging_name,
)
from .processing import FAILURE_MESSAGES, transition

STORED_PREFIXES = ("uploads", "thumbnails")
# An upload still arriving is younger than this; an older part was abandoned.
ABANDONED_UPLOAD_AGE = timedelta(days=1)
IN_FLIGHT_MARGIN = timedelta(seconds=5)


@dataclass
class AuditReport:
    orphans: list[str] = field(default_factory=list)  # stored names no row refers to
    missing: list[str] = field(default_factory=list)  # ids of rows whose bytes are gone


def walk(directory: str):
    try:
        directories, files = default_storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{directory}/{name}"
    for sub in directories:
        yield from walk(f"{directory}/{sub}")


def orphans(known: set[str], *, started):
    """Stored names no row refers to, and upload parts abandoned in the incoming and staging
    folders (a staged upload still awaiting its bytes is known).

    Bytes written since the audit started are left alone: their rows may have been committed
    after `known` was read (an upload or a thumbnail landing mid-audit)."""
    for prefix in STORED_PREFIXES:
        yield from (
            name
            for name in walk(prefix)
            if name not in known and default_storage.get_modified_time(name) < started
        )
    abandoned_before = started - ABANDONED_UPLOAD_AGE
    for name in itertools.chain(walk(INCOMING_FOLDER), walk(STAGING_FOLDER)):
        if name not in known and default_storage.get_modified_time(name) < abandoned_before:
            yield name


def referenced(name: str) -> bool:
    """Asked again just before a name is reported or deleted. The modified time can't tell a
    fresh upload: its part is renamed into place keeping the time its last byte was written,
    so a big upload whose row commits while the audit runs looks abandoned by it."""
    return File.objects.filter(Q(stored_file=name) | Q(thumbnail=name)).exists()


def storage_audit(*, fix: bool = False) -> AuditReport:
    """Find (and with `fix`, remove) orphaned bytes; mark rows whose bytes are gone FAILED."""
    report = AuditReport()
    # A little before now: file times can be coarser than the clock (and writes in flight).
    started = timezone.now() - IN_FLIGHT_MARGIN
    known = set(File.objects.values_list("stored_file", flat=True))
    known |= set(File.objects.exclude(thumbnail="").values_list("thumbnail", flat=True))
    # An upload still awaiting its bytes keeps them under its staging name, however long
    # its client pauses (its expiry is the sweep's to decide).
    awaiting = File.objects.filter(status=FileStatus.AWAITING_UPLOAD).values_list("pk", flat=True)
    known |= {staging_name(file_id) for file_id in awaiting.iterator()}
    for name in orphans(known, started=started):
        if referenced(name):
            continue  # its row was committed after `known` was read
        report.orphans.append(name)
        if fix:
            default_storage.delete(name)
    if storage.is_s3():
        unfinished = storage.abandoned_multipart_uploads(
            "uploads/", before=started - ABANDONED_UPLOAD_AGE
        )
        # A tus upload in progress holds one for as long as it lasts (the sweep expires it).
        resuming = set(
            ResumableUpload.objects.exclude(multipart_id="").values_list("multipart_id", flat=True)
        )
        for key, upload_id in (item for item in unfinished if item[1] not in resuming):
            report.orphans.append(f"{key} (unfinished upload)")
            if fix:
                storage.multipart_upload_abort(key, upload_id)
    # A direct upload awaiting its bytes has none yet (the sweep expires it if they never come).
    rows = File.objects.exclude(
        status=FileStatus.FAILED, failure_code=FailureCode.MISSING_BYTES
    ).exclude(status=FileStatus.AWAITING_UPLOAD)
    for file_id, name in rows.values_list("id", "stored_file").iterator():
        if not default_storage.exists(name):
            report.missing.append(str(file_id))
            if fix:
                transition(
                    file_id,
                    status=FileStatus.FAILED,
                    progress=0.0,
                    failure_code=FailureCode.MISSING_BYTES,
                    error=FAILURE_MESSAGES[FailureCode.MISSING_BYTES],
                )
    return report
