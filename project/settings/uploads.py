"""Uploads and their limits: sizes, counts, rates and quotas, direct uploads to S3, tus."""

from project.settings.env import GIB, KIB, MIB, env_float, env_int

MAX_UPLOAD_SIZE = env_int("MAX_UPLOAD_SIZE", 1 * GIB)
MAX_FILES_PER_REQUEST = env_int("MAX_FILES_PER_REQUEST", 20)
# Per user: files accepted per minute, and bytes stored in all (0 turns either off).
UPLOAD_RATE_LIMIT_PER_MINUTE = env_int("UPLOAD_RATE_LIMIT_PER_MINUTE", 120)
STORAGE_QUOTA = env_int("STORAGE_QUOTA", 10 * GIB)
# Per user: uploads sending bytes at once (multipart POSTs and tus PATCHes, across every web
# process; 0: no cap). Their bytes count against STORAGE_QUOTA while they arrive (reserved
# before the body is read), so concurrent uploads can't together pass it.
UPLOAD_MAX_CONCURRENT_PER_USER = env_int("UPLOAD_MAX_CONCURRENT_PER_USER", 8)
# A request renews its reservation (and a tus PATCH its hold on the upload) every third of
# this many seconds; one left by a web process that died stops counting this long after its
# last renewal.
UPLOAD_RESERVATION_SECONDS = env_float("UPLOAD_RESERVATION_SECONDS", 60.0)
# Uploads stream into MEDIA_ROOT/.incoming as they arrive (schema/http/ingress.py) and are renamed
# into place; the limits apply while the bytes arrive. A JSON request body, and the
# `operations` and `map` fields of an upload together, are at most this many bytes:
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GRAPHQL_MAX_REQUEST_FIELDS_SIZE", 2 * MIB)
FILE_UPLOAD_PERMISSIONS = 0o640
# Every request body is read at a pace or its client is dropped (schema/http/pacing.py, after
# Apache's mod_reqtimeout): a body read starts with REQUEST_BODY_IDLE_TIMEOUT seconds of
# credit; each second spent waiting for the client costs one, each REQUEST_BODY_MIN_RATE
# bytes it sends earn one back, up to the timeout. Silent for the timeout, or trickling below
# the rate, it gets a 408 and its connection is closed (0 turns the rate off, not the timeout).
REQUEST_BODY_IDLE_TIMEOUT = env_float("REQUEST_BODY_IDLE_TIMEOUT", 30.0)
REQUEST_BODY_MIN_RATE = env_int("REQUEST_BODY_MIN_RATE", 1 * KIB)
# Direct uploads (S3 only: `createUploadUrl`): the presigned POST is valid this many seconds;
# S3 checks it when the transfer starts, so a row still AWAITING_UPLOAD this long plus
# DIRECT_UPLOAD_GRACE seconds after it was issued is abandoned (the sweep deletes it).
DIRECT_UPLOAD_URL_EXPIRE = env_int("DIRECT_UPLOAD_URL_EXPIRE", 600)
DIRECT_UPLOAD_GRACE = env_int("DIRECT_UPLOAD_GRACE", 3600)
# Resumable uploads (tus, schema/http/tus.py): one unfinished TUS_EXPIRE seconds after its last
# bytes arrived is deleted by the recovery sweep, with its partial bytes.
TUS_EXPIRE = env_int("TUS_EXPIRE", 24 * 3600)
# The page sends files of at least TUS_THRESHOLD bytes through tus (0: never), in PATCH
# requests of at most TUS_CHUNK_SIZE bytes (on S3 at least 5 MiB, one multipart part).
TUS_THRESHOLD = env_int("TUS_THRESHOLD", 32 * MIB)
TUS_CHUNK_SIZE = env_int("TUS_CHUNK_SIZE", 16 * MIB)
