"""Security headers, the audit logs' anchor key and the keys of secrets at rest."""

from __future__ import annotations

from .environment import env
from .storage import AWS_STORAGE_BUCKET_NAME

# --- Security headers ------------------------------------------------------------
# No inline script or style anywhere (static/ holds them all), so the policy needs no
# 'unsafe-inline'. Signed S3 URLs (selfies, photos) are images from the bucket's origin.
_bucket_origin = ""
if AWS_STORAGE_BUCKET_NAME:
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="").rstrip("/")
    _bucket_origin = _endpoint or "https://*.amazonaws.com"
CSP_EXTRA_IMG_SRC = env.list("CSP_EXTRA_IMG_SRC", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *([_bucket_origin] if _bucket_origin else []),
                    *CSP_EXTRA_IMG_SRC],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        # Buying credits posts to us and is redirected to Stripe's pages, which form-action
        # also governs.
        "form-action": ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"],
        "frame-ancestors": ["'none'"],
        **({"report-uri": [env.str("CSP_REPORT_URI")]} if env.str("CSP_REPORT_URI", default="")
           else {}),
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Nothing here uses a camera (uploads take files), a microphone, a location or payments in
# the page (Checkout is Stripe's own page).
PERMISSIONS_POLICY = {feature: [] for feature in (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
    "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
    "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "usb",
    "xr-spatial-tracking")}

# --- Audit logs ---------------------------------------------------------------
# Signs the anchored heads and checkpoints of the consent log and the credit ledger
# (core/anchoring.py). Empty: derived from DJANGO_SECRET_KEY. Keep it out of the database's
# reach (a database dump must not be enough to forge an anchor); changing it makes every
# existing anchor fail verification.
AUDIT_ANCHOR_KEY = env.str("AUDIT_ANCHOR_KEY", default="")

# --- Secrets at rest (core/crypto.py) -----------------------------------------
# Fernet keys encrypting the secrets we store (directory credentials, webhook signing
# secrets, OIDC client secrets, TOTP seeds), newest first: the first encrypts, all decrypt;
# `manage.py rotate_field_keys` re-encrypts with the first. Empty: derived from
# DJANGO_SECRET_KEY. IDENTITY_ENCRYPTION_KEYS is the older name, still read.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS",
                                 default=env.list("IDENTITY_ENCRYPTION_KEYS", default=[]))
