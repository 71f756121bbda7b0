"""Files and storage: static files, media, S3 (the embedded default: local files)."""

from __future__ import annotations

from pathlib import Path

import botocore.config

from .environment import BASE_DIR, env

# --- Files and storage --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# No MEDIA_URL is served: private files are only ever returned by views that
# check access (local) or through short-lived signed URLs (S3).
MEDIA_URL = "/media-not-public/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("SIGNED_URL_TTL_SECONDS", default=300),
            # botocore presigns with SigV2 unless told otherwise, which new buckets,
            # SigV4-only regions and SSE-KMS objects refuse. boto3 1.36+ adds CRC checksums
            # to every upload and checks them on downloads, which several S3-compatible
            # stores refuse or do not send: only where an operation requires one, unless the
            # environment says otherwise (botocore's own variable names).
            "client_config": botocore.config.Config(
                signature_version="s3v4",
                request_checksum_calculation=env.str("AWS_REQUEST_CHECKSUM_CALCULATION",
                                                     default="when_required"),
                response_checksum_validation=env.str("AWS_RESPONSE_CHECKSUM_VALIDATION",
                                                     default="when_required"),
            ),
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"}
            if env.bool("AWS_S3_SSE", default=True)
            else {},
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# FILE_UPLOAD_MAX_MEMORY_SIZE: the selfie cap (generation.py), so uploads stay in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # form fields only; files are capped separately
