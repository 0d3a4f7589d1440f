"""Every write. Callers import from here: `from files_app import services`.

- `upload`: accept uploads (all or nothing), and what a user may still upload (the
  allowance: rate and quota).
- `reprocess`: queue a finished file again.
- `deletion`: delete a file, its bytes after commit, its last event to its subscribers.
- `direct_upload`: uploads sent straight to S3: the URL and the completion.
- `resumable`: tus uploads: creation, each PATCH's bytes, termination.
- `processing`: the state machine a Celery task drives, PENDING → PROCESSING → DONE|FAILED,
  and what the task schedules next (`Handled`).
- `statements`: a state change as one UPDATE … RETURNING, its SQL compiled once per shape.
- `lease`: a running file's lease, renewed by its worker; lapsed, the file may be taken over.
- `recovery`: the sweep: stuck files queued again, abandoned uploads (direct, tus) expired.
- `tokens`: API tokens.
- `users`: accounts made from the command line.
- `fair_share`: at most FILE_MAX_IN_FLIGHT_PER_USER files of one user processing at once.
- `usage`: the per-owner counters (bytes, files by status): recounted when they drifted.
- `webhooks`: signed HTTP callbacks for a user's file events, and their deliveries.
- `reservations`: uploads in flight: their bytes counted against the quota, how many run at
  once, and one writer per upload.
- `audit`: the storage checked against the rows (`manage.py storage_audit`).
"""

from .deletion import file_delete
from .direct_upload import file_upload_complete, file_upload_url_create
from .lease import file_takeover_wait
from .processing import (
    FAILURE_MESSAGES,
    SendAgain,
    file_fail,
    file_finish,
    file_process,
    file_record_progress,
    file_start_processing,
)
from .recovery import files_recover
from .reprocess import file_reprocess
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
from .upload import file_create, files_create, sanitize_file_name, upload_allowance
from .usage import owner_usage_recount, owner_usages_recount
from .users import user_create
from .webhooks import (
    CreatedWebhook,
    webhook_create,
    webhook_delete,
    webhook_deliver,
    webhook_deliveries_create,
    webhook_deliveries_prune,
    webhook_deliveries_recover,
)

__all__ = [
    "FAILURE_MESSAGES",
    "Reservation",
    "SendAgain",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "file_create",
    "file_delete",
    "file_fail",
    "file_finish",
    "file_process",
    "file_record_progress",
    "file_reprocess",
    "file_start_processing",
    "file_takeover_wait",
    "file_upload_complete",
    "file_upload_url_create",
    "files_create",
    "files_recover",
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
    "owner_usage_recount",
    "owner_usages_recount",
    "user_create",
    "CreatedWebhook",
    "webhook_create",
    "webhook_deliver",
    "webhook_deliveries_create",
    "webhook_deliveries_prune",
    "webhook_deliveries_recover",
    "webhook_delete",
]
