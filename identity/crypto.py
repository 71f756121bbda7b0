"""Encryption at rest for the identity secrets we hold (OIDC client secrets, TOTP seeds).

Fernet (AES-128-CBC + HMAC) from ``cryptography``; several keys may be configured, the
first encrypts and all decrypt, so keys can be rotated without a migration.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(ValueError):
    """The value was not encrypted with any configured key (or was tampered with)."""


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "IDENTITY_ENCRYPTION_KEYS", []) or [])
    if not keys:
        # A key of our own, derived from SECRET_KEY (never the key itself).
        digest = hashlib.sha256(b"likeness.identity:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt(plaintext: str) -> str:
    if plaintext == "":
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if ciphertext == "":
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("Stored secret cannot be decrypted with the configured keys.") from exc
