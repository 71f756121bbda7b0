"""SCIM bearer tokens: one company each, provisioning only, shown once, stored as SHA-256.

django-scim2 expects a Django user behind every request; a provisioning client is no person,
so our views authenticate the token themselves (views.ScimViewMixin) and put the company on
the request, and every lookup is scoped to it (``company_filter_kwargs_getter``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.errors import ServiceError
from core.rls import company_scope, rls_bypass
from teams.models import Company, Membership
from teams.services.companies import company_admin_required

from ..audit import audit_record
from ..models import ScimToken

TOKEN_PREFIX = "scim_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, company: Company, actor: Membership, name: str,
                 request: HttpRequest | None = None) -> tuple[ScimToken, str]:
    """A new token; the raw value is returned once and never stored."""
    company_admin_required(actor=actor, company=company, to="create provisioning tokens")
    name = name.strip()
    if not name:
        raise ServiceError("Name the token after the client that uses it, e.g. “Entra ID”.")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ScimToken.objects.create(company=company, name=name[:120], prefix=prefix,
                                     token_hash=_hash(raw), created_by=actor.user)
    audit_record(company=company, action="scim.token_created", actor=actor.user,
                 target=f"{name} ({prefix}…)", request=request)
    return token, raw


def token_revoke(*, company: Company, actor: Membership, token: ScimToken,
                 request: HttpRequest | None = None) -> None:
    company_admin_required(actor=actor, company=company, to="revoke provisioning tokens")
    revoked = ScimToken.objects.for_company(company).filter(
        pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        audit_record(company=company, action="scim.token_revoked", actor=actor.user,
                     target=f"{token.name} ({token.prefix}…)", request=request)


def token_list(*, company: Company) -> QuerySet[ScimToken]:
    return ScimToken.objects.for_company(company).select_related("created_by")


def token_authenticate(header: str) -> ScimToken | None:
    """The live token behind an ``Authorization: Bearer …`` header, or None."""
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    # The token is what names the company, so this lookup crosses the wall.
    with rls_bypass("a provisioning token's hash names its company"):
        token = (ScimToken.objects.unscoped().select_related("company")
                 .filter(token_hash=_hash(raw), revoked_at__isnull=True,
                         company__closed_at__isnull=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        with company_scope(token.company_id):
            ScimToken.objects.for_company(token.company_id).filter(pk=token.pk).update(
                last_used_at=now)
    return token


def company_filter_kwargs_getter(model):
    """django-scim2 hook: every object lookup is limited to the token's company."""
    def get_extra_filter_kwargs(request, *args, **kwargs):
        return {"company": request.scim_company}
    return get_extra_filter_kwargs


def base_location(request=None, *args, **kwargs) -> str:
    return settings.SITE_URL


class PassThrough:
    """django-scim2 wraps its views in an "auth check middleware"; ours authenticate in
    dispatch (views.ScimViewMixin), so this one only passes the request on."""

    def __init__(self, get_response=None):
        self.get_response = get_response

    def __call__(self, request, *args, **kwargs):
        return self.get_response(request, *args, **kwargs)
