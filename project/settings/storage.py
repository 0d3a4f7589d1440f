"""Where bytes live: static files, and uploads on local disk or, when a bucket is named, S3
(any S3-compatible server)."""

import os
from pathlib import Path

from project.settings.base import DEBUG
from project.settings.env import BASE_DIR, MIB, VAR_DIR, env_int

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
# The live page's Vite build (`make frontend`), served by ServeStatic like the admin's files.
STATICFILES_DIRS = [p for p in [BASE_DIR / "frontend" / "dist"] if p.is_dir()]
# Serve straight from the apps and frontend/dist as well as STATIC_ROOT, so a server works
# without `collectstatic` (the Docker image still collects them at build time).
SERVESTATIC_USE_FINDERS = True

# django-storages reads these AWS_* names itself; keys may also come from boto3's own chain
# (instance profile, ~/.aws) when left unset.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None  # MinIO, Ceph, R2, moto
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
# A download is a redirect to a presigned URL valid this long: enough to start it, short
# enough that a leaked link soon stops working (S3 checks it when the transfer starts).
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 60)
# The S3 endpoint as clients (browsers) reach it, for the presigned URLs handed to them
# (downloads, direct uploads) only: compose's MinIO is `minio:9000` to the web process and
# `localhost:9000` to a browser. Unset: AWS_S3_ENDPOINT_URL.
AWS_S3_PUBLIC_ENDPOINT_URL = os.environ.get("AWS_S3_PUBLIC_ENDPOINT_URL") or None
AWS_DEFAULT_ACL = None  # the bucket's own policy: objects stay private
AWS_S3_FILE_OVERWRITE = True  # names are unique already (uploads/<owner>/<uuid>)
AWS_S3_SIGNATURE_VERSION = "s3v4"
# Each part of the multipart upload an upload streams into (S3's minimum is 5 MiB): one such
# buffer per upload in flight is what a web process holds of it.
S3_UPLOAD_PART_SIZE = max(env_int("S3_UPLOAD_PART_SIZE", 8 * MIB), 5 * MIB)
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"}
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Static files are public and read by another user than the one collecting them (the
    # proxy's nginx, the image's `app` when root collected at build time): world-readable,
    # not FILE_UPLOAD_PERMISSIONS' 0640, which is for uploads.
    "staticfiles": {
        "BACKEND": "servestatic.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "media/"  # never served directly: downloads go through the owner-checked view
