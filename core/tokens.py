"""Random tokens that are shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_generate() -> tuple[str, str]:
    """Return (raw token for the URL, its hash for the database)."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)
