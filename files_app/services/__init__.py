"""Every write. Callers import from here: `from files_app import services`.

- `upload`: accept uploads (all or nothing), reprocess, delete.
- `direct_upload`: uploads sent straight to S3: the URL, the completion, the expiry.
- `resumable`: tus uploads: creation, each PATCH's bytes, termination.
- `processing`: the state machine a Celery task drives, PENDING → PROCESSING → DONE|FAILED.
- `statements`: a state change as one UPDATE … RETURNING, its SQL compiled once per shape.
- `lease`: a running file's lease, renewed by its worker; lapsed, the file may be taken over.
- `tokens`: API tokens.
- `users`: accounts made from the command line.
- `fair_share`: at most FILE_MAX_IN_FLIGHT_PER_USER files of one user processing at once.
- `reservations`: uploads in flight: their bytes counted against the quota, how many run at
  once, and one writer per upload.
"""

from .direct_upload import file_upload_complete, file_upload_url_create, files_expire_awaiting
from .fair_share import DEFERRED
from .lease import file_takeover_wait
from .processing import (
    FAILURE_MESSAGES,
    file_fail,
    file_finish,
    file_process,
    file_record_progress,
    file_start_processing,
)
from .recovery import files_recover
from .reservations import (
    Reservation,
    upload_reservation_release,
    upload_reservation_renew,
    upload_reserve,
)
from .resumable import (
    resumable_upload_advance,
    resumable_upload_check,
    resumable_upload_claim,
    resumable_upload_create,
    resumable_upload_terminate,
    resumable_upload_writer,
)
from .tokens import api_token_authenticate, api_token_create, api_token_revoke
from .upload import (
    file_create,
    file_delete,
    file_reprocess,
    files_create,
    sanitize_file_name,
    upload_allowance,
    validate_uploads,
)
from .users import user_create

__all__ = [
    "DEFERRED",
    "FAILURE_MESSAGES",
    "Reservation",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "file_create",
    "files_recover",
    "file_delete",
    "file_fail",
    "file_finish",
    "file_process",
    "file_record_progress",
    "file_reprocess",
    "file_start_processing",
    "file_takeover_wait",
    "files_create",
    "files_expire_awaiting",
    "file_upload_complete",
    "file_upload_url_create",
    "resumable_upload_advance",
    "resumable_upload_check",
    "resumable_upload_claim",
    "resumable_upload_create",
    "resumable_upload_terminate",
    "resumable_upload_writer",
    "sanitize_file_name",
    "upload_allowance",
    "upload_reservation_release",
    "upload_reservation_renew",
    "upload_reserve",
    "user_create",
    "validate_uploads",
]
