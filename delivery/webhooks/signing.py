"""Signing outbound webhooks, and checking a signature (for receivers).

    Likeness-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Likeness-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Likeness-Signature`` header for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def webhook_signature_verify(secret: str, header: str, body: bytes | str,
                             tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` (``Likeness-Signature``) signs ``body`` with ``secret``, recently.

    For receivers: this function needs only the standard library (hashlib, hmac, time),
    so it can be copied as it is. Pass the raw request body exactly as received, before
    any JSON parsing; ``tolerance`` is how old (or how far ahead) the timestamp may be, in
    seconds, so a captured request cannot be replayed later. Several ``v1=`` values may be
    present; one matching is enough.
    """
    if isinstance(body, str):
        body = body.encode()
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(expected, s.encode()) for s in signatures)
