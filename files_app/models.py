"""Data only: the workflows that change these rows live in `services/`."""

import hashlib
import uuid

from django.conf import settings
from django.db import models

from .processors.kinds import FileKind


class FileStatus(models.TextChoices):
    # A direct upload's row, from `createUploadUrl` until `completeUpload` finds its bytes in
    # the bucket (then PENDING); the recovery sweep deletes it once its URL is long expired.
    AWAITING_UPLOAD = "AWAITING_UPLOAD", "Awaiting upload"
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


# The kinds are listed once, in `processors.kinds` (processors know nothing of models).
KIND_CHOICES = [(kind.value, kind.label) for kind in FileKind]


# Where an upload's bytes are written while they arrive, before the file has a row (the web
# edge renames them into `uploads/` once stored). Anything older than a day there is left over
# from a web process that died mid-upload: `storage_audit` removes it.
INCOMING_FOLDER = ".incoming"


# Where an upload that has its row before its bytes (tus on local disk, a direct upload to
# S3) receives them, across requests for as long as the upload lasts (an ingress part in
# `.incoming` lives for one request). Renamed or copied to `stored_name` once complete, so the
# name a file is processed and served from is written once, whole.
STAGING_FOLDER = ".staged"


def staging_name(file_id) -> str:
    return f"{STAGING_FOLDER}/{file_id.hex}"


def stored_name(owner_id, file_id) -> str:
    """Unguessable and never derived from the client's name (which may be hostile). Known
    before the bytes arrive, so an upload to S3 streams straight to its final key."""
    return f"uploads/{owner_id}/{file_id.hex}"


def stored_file_path(instance: "File", filename: str) -> str:
    return stored_name(instance.owner_id, instance.pk)


def thumbnail_path(instance: "File", filename: str) -> str:
    return f"thumbnails/{instance.owner_id}/{instance.pk.hex}-{instance.version}.webp"


class File(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="files"
    )
    name = models.CharField(max_length=255, help_text="Original file name, sanitised.")
    stored_file = models.FileField(upload_to=stored_file_path, max_length=255)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    content_type = models.CharField(
        max_length=255, blank=True, default="", help_text="Sniffed from the bytes."
    )
    kind = models.CharField(max_length=16, choices=KIND_CHOICES, default=FileKind.OTHER)
    sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True)
    status = models.CharField(max_length=16, choices=FileStatus.choices, default=FileStatus.PENDING)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True, default="")
    # Why it FAILED, beside the message; empty otherwise (and for files failed before codes).
    # A FailureCode; no `choices`, so a new code needs no migration.
    failure_code = models.CharField(max_length=32, blank=True, default="")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # What the kind's processor found (docs/api.md, "What processing yields"), set when DONE;
    # empty otherwise.
    result = models.JSONField(default=dict, blank=True)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=255, blank=True)
    # Bumped on every state change; subscribers drop events that are not newer.
    version = models.PositiveBigIntegerField(default=1)
    # Set on every state change (explicitly: UPDATE queries skip auto_now); the recovery
    # sweep finds work that has not moved for too long by it.
    updated_at = models.DateTimeField(auto_now=True)
    # Processing runs started; after FILE_MAX_ATTEMPTS the sweep gives up (FAILED).
    attempts = models.PositiveSmallIntegerField(default=0)
    # While PROCESSING: the run's worker renews this every few seconds; once it has lapsed
    # the worker is presumed dead and the recovery sweep queues the file again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        # Owners always may see, delete and reprocess their own files; these rights reach
        # everyone's files: `view_file` to see, `delete_file` to delete (Django's defaults) and
        # `reprocess_file` to reprocess.
        permissions = [("reprocess_file", "Can reprocess any user's file")]
        indexes = [
            # The `files` query: owner-scoped, optionally by status, ordered three ways.
            models.Index(fields=["owner", "-uploaded_at"], name="file_owner_uploaded"),
            models.Index(fields=["owner", "status", "-uploaded_at"], name="file_owner_status"),
            models.Index(fields=["owner", "name"], name="file_owner_name"),
            models.Index(fields=["owner", "size"], name="file_owner_size"),
            models.Index(fields=["status", "updated_at"], name="file_status_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ResumableUpload(models.Model):
    """A tus upload (schema/http/tus.py) of its File, which stays AWAITING_UPLOAD until the last
    byte arrives. The bytes received so far live in the storage, so an upload survives a web
    restart and may go on through another web process: on local disk, a file at the File's
    final name, written at `offset`; on S3, the multipart upload `multipart_id` (whole parts
    only, listed in `parts`). Past `expires_at` an unfinished one is deleted by the recovery
    sweep, with its bytes. Kept once finished, so a client resuming it learns it is done."""

    file = models.OneToOneField(
        File, on_delete=models.CASCADE, primary_key=True, related_name="resumable"
    )
    offset = models.PositiveBigIntegerField(default=0, help_text="Bytes stored so far.")
    expires_at = models.DateTimeField()
    multipart_id = models.CharField(max_length=1024, blank=True, default="")
    parts = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"tus upload of {self.file_id} ({self.offset} bytes)"


class UploadReservation(models.Model):
    """A request writing an upload's bytes now (services/reservations.py): a multipart POST,
    a tus PATCH, a direct upload's completion. The `bytes` it may still write count against
    its owner's quota, and it counts against the cap on uploads at once; one that names a
    `file` is that upload's only writer. Renewed by its request while it lasts; a web process
    that died leaves one that stops counting at `expires_at` (the database's clock), and the
    recovery sweep deletes it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_reservations"
    )
    bytes = models.PositiveBigIntegerField(default=0)
    file = models.OneToOneField(
        File, on_delete=models.CASCADE, null=True, blank=True, related_name="writer"
    )
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["owner", "expires_at"], name="reservation_owner_expiry")]

    def __str__(self) -> str:
        return f"{self.bytes} bytes reserved by user {self.owner_id} until {self.expires_at}"


class ApiToken(models.Model):
    """A bearer token for API clients; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # None: never expires (`create_api_token --expires-in 30d` sets one).
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.name or self.pk} for {self.user}"

    @staticmethod
    def hash(raw_token: str) -> str:
        # Tokens carry 256 random bits, so a fast hash is enough (no password stretching).
        return hashlib.sha256(raw_token.encode()).hexdigest()


class ReprocessRequest(models.Model):
    """One `reprocessFile` call: reprocessing counts against the upload rate limit, and
    unlike an upload it leaves no new row to count. Rows older than the rate window are
    deleted by the recovery sweep."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reprocess_requests"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "requested_at"], name="reprocess_user_at")]


class OwnerUsage(models.Model):
    """What one owner's files add up to: their bytes (what the storage quota counts) and how
    many are in each status (what an unfiltered `totalCount` answers), one row per owner, so
    either is one indexed read however many files the owner has. Kept by database triggers
    on File (migration 0007), in the statement that inserts, deletes or changes a row's
    status or size, so no write path can forget it: the ORM's, a bulk delete, the admin, raw
    SQL. `manage.py files_recount` recomputes it. Not a positive field: a counter that
    drifted (a restore of one table) must not refuse the write that moves it."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    bytes = models.BigIntegerField(default=0)
    awaiting_upload = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    processing = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)

    def count(self, statuses=None) -> int:
        """Files in any of `statuses` (all of them when None)."""
        wanted = statuses or FileStatus.values
        return sum(getattr(self, status.lower()) for status in wanted)

    def __str__(self) -> str:
        return f"user {self.owner_id}: {self.count()} files, {self.bytes} bytes"


class WebhookEvent(models.TextChoices):
    """What a webhook may subscribe to; the value is the delivery's `type`."""

    FILE_DONE = "file.done", "File done"
    FILE_FAILED = "file.failed", "File failed"
    FILE_DELETED = "file.deleted", "File deleted"


class Webhook(models.Model):
    """An owner's HTTP callback (services/webhooks.py). Its signing secret is kept encrypted
    with a key derived from SECRET_KEY: the signer needs it back, so a hash would not do, and
    the database alone does not reveal it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=2048)
    # WebhookEvent values, in a list (a JSON list: the same on SQLite and PostgreSQL).
    events = models.JSONField(default=list)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "created_at"], name="webhook_owner_created")]

    def __str__(self) -> str:
        return f"webhook {self.url} of user {self.owner_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"  # not yet tried, or waiting for its next try
    SUCCEEDED = "SUCCEEDED", "Succeeded"  # answered 2xx
    FAILED = "FAILED", "Failed"  # every try failed, for WEBHOOK_RETRY_FOR_SECONDS


class WebhookDelivery(models.Model):
    """One event for one webhook: its body is fixed when the event happens, and every try
    sends it with the same `webhook-id` (`message_id`), so a receiver can drop a duplicate."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    message_id = models.CharField(max_length=64, unique=True)
    body = models.TextField(help_text="The JSON sent, byte for byte (UTF-8).")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the next try is due (PENDING); a try claims the delivery by moving it on.
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The last try's outcome in words: "HTTP 503", "no answer within 10 s", "refused: …".
    responded_with = models.CharField(max_length=255, blank=True, default="")
    # The start of the last answer's body (WEBHOOK_RESPONSE_MAX_BYTES at most), for the admin.
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id} ({self.status})"
