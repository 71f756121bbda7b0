"""API keys: created by admins, shown once, stored hashed, revocable, optionally expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.utils import timezone

from core.errors import ServiceError
from core.rls import rls_bypass
from teams.models import Company, Membership
from teams.services.companies import company_admin_required

from ..models import ApiKey

KEY_PREFIX = "lk_"


def api_key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, company: Company, actor: Membership, name: str, scope: str,
                   expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key and its secret, which is never shown again."""
    company_admin_required(actor=actor, company=company, to="create API keys")
    name = name.strip()
    if not name:
        raise ServiceError("Give the key a name that says what uses it.")
    if scope not in ApiKey.Scope.values:
        raise ServiceError("Choose read or write.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry date must be in the future.")
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(company=company, name=name[:120], prefix=prefix,
                                key_hash=api_key_hash(raw), scope=scope,
                                created_by=actor.user, expires_at=expires_at)
    return key, raw


def api_key_revoke(*, company: Company, actor: Membership, key: ApiKey) -> None:
    company_admin_required(actor=actor, company=company, to="revoke API keys")
    ApiKey.objects.for_company(company).filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now())


def api_key_for_secret(raw: str) -> ApiKey | None:
    """The key a presented secret belongs to, whatever its state (callers check it)."""
    if not raw.startswith(KEY_PREFIX):
        return None
    # Looking up by hash crosses the wall on purpose: the key is what names the company.
    with rls_bypass("an API key's hash names its company"):
        return (ApiKey.objects.unscoped().select_related("company")
                .filter(key_hash=api_key_hash(raw)).first())
