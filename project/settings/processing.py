"""Processing: time limits, retries, leases and the recovery sweep, fair share, memory, and
the limits that guard the processors against hostile files (`PROCESSING_LIMITS`: the one
place their defaults are written)."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.env import GIB, KIB, MIB, env_float, env_int, env_list

PROCESSING_CHUNK_SIZE = env_int("PROCESSING_CHUNK_SIZE", 1 * MIB)
# At most this many progress events a second per file (the final state is always sent).
PROGRESS_EVENTS_PER_SECOND = env_float("PROGRESS_EVENTS_PER_SECOND", 5.0)
# A file still processing after this many seconds ends FAILED ("took too long").
PROCESSING_SOFT_TIME_LIMIT = env_int("PROCESSING_SOFT_TIME_LIMIT", 600)
PROCESSING_HARD_TIME_LIMIT_GRACE = 30
# Storage errors while processing are retried this often, with exponential backoff.
PROCESSING_MAX_RETRIES = env_int("PROCESSING_MAX_RETRIES", 3)
PROCESSING_RETRY_BACKOFF_SECONDS = env_int("PROCESSING_RETRY_BACKOFF_SECONDS", 5)
# A running file holds a lease of FILE_LEASE_SECONDS that its worker renews every
# FILE_LEASE_RENEW_INTERVAL seconds; once it lapses (the worker died or froze) the sweep queues
# the file again. Defaults: a killed worker's file is queued again within lease + interval.
FILE_LEASE_SECONDS = env_float("FILE_LEASE_SECONDS", 30.0)
FILE_LEASE_RENEW_INTERVAL = env_float("FILE_LEASE_RENEW_INTERVAL", FILE_LEASE_SECONDS / 3)
if not 0 < FILE_LEASE_RENEW_INTERVAL < FILE_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "FILE_LEASE_RENEW_INTERVAL must be above 0 and below FILE_LEASE_SECONDS (a third of it "
        "lets a renewal be late twice before the lease lapses)."
    )
# The recovery sweep, every FILE_RECOVERY_INTERVAL seconds on Celery beat: PROCESSING files
# whose lease lapsed, and PENDING files untouched for FILE_RECOVERY_AFTER seconds (a queue
# backlog is not lost work: the default outlasts what a worker can take), are queued again;
# after FILE_MAX_ATTEMPTS runs, FAILED.
FILE_RECOVERY_AFTER = env_int("FILE_RECOVERY_AFTER", PROCESSING_SOFT_TIME_LIMIT + 300)
FILE_RECOVERY_INTERVAL = env_float("FILE_RECOVERY_INTERVAL", 10.0)
FILE_MAX_ATTEMPTS = env_int("FILE_MAX_ATTEMPTS", 3)
# Fair share: at most this many of one user's files PROCESSING at once (0: no cap); a task
# that would start one more leaves it PENDING and is sent again this many seconds later.
# Below the workers' total concurrency, so one user's burst leaves workers for the others.
FILE_MAX_IN_FLIGHT_PER_USER = env_int("FILE_MAX_IN_FLIGHT_PER_USER", 4)
FILE_IN_FLIGHT_RETRY_SECONDS = env_float("FILE_IN_FLIGHT_RETRY_SECONDS", 2.0)
CELERY_BEAT_SCHEDULE = {
    "recover-stuck-files": {"task": "files_app.recover_files", "schedule": FILE_RECOVERY_INTERVAL},
}
# Guards against hostile files (see files_app/processors/base.py: ProcessingLimits).
PROCESSING_LIMITS = {
    "max_image_pixels": env_int("MAX_IMAGE_PIXELS", 64_000_000),
    "thumbnail_size": env_int("THUMBNAIL_SIZE", 256),
    "max_bad_rows": env_int("CSV_MAX_BAD_ROWS", 100),
    "max_archive_ratio": env_float("ARCHIVE_MAX_RATIO", 100.0),
    "max_archive_uncompressed": env_int("ARCHIVE_MAX_UNCOMPRESSED", 10 * GIB),
    "max_archive_entries": env_int("ARCHIVE_MAX_ENTRIES", 10_000),
    "max_json_depth": env_int("JSON_MAX_DEPTH", 64),
    "image_formats": tuple(env_list("IMAGE_FORMATS", "JPEG,PNG,GIF,WEBP,TIFF,BMP")),
}
# Address space one processing task may add to its pool process, in MiB (project/celery.py;
# 0: no limit). Past it the file ends FAILED instead of the host running out of memory. The
# default fits the largest image MAX_IMAGE_PIXELS lets through (decoded, then thumbnailed).
PROCESSING_MEMORY_LIMIT = env_int("PROCESSING_MEMORY_LIMIT", 1024)
# Processors from outside the project, by dotted path (files_app/processors/outside.py).
FILE_PROCESSORS = tuple(env_list("FILE_PROCESSORS"))
# A pool process left holding more than this (resident, MiB) after a task is replaced.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("PROCESSING_MAX_MEMORY_PER_CHILD", 512) * KIB
