"""Two-factor authentication for owners and admins: TOTP (with recovery codes) and WebAuthn
security keys or passkeys, on allauth.mfa's authenticators.

Verification is a step up: whatever way someone signed in (password, e-mailed link, SSO),
the first admin page they open asks for the second factor when they have one, or when their
company's owner requires it; the session then stays verified for ADMIN_2FA_SESSION_HOURS.
"""

from __future__ import annotations

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from teams.models import Company, Membership, User

from ..audit import audit_record
from ..models import SecuritySettings

SESSION_KEY = "identity_2fa"
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
MAX_FAILURES = 10  # per person per 15 minutes, then codes are refused for a while


class TooManyAttempts(ServiceError):
    pass


def security_settings(*, company: Company) -> SecuritySettings:
    return (SecuritySettings.objects.for_company(company).first()
            or SecuritySettings(company=company))


def authenticators(*, user: User):
    return Authenticator.objects.filter(user=user).order_by("created_at")


def has_second_factor(*, user: User) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def has_totp(*, user: User) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def require_admin_2fa_set(*, company: Company, actor: Membership, required: bool,
                          request: HttpRequest | None = None) -> SecuritySettings:
    if actor.company_id != company.pk or actor.role != Membership.Role.OWNER:
        raise NotAllowed("Only the owner can require two-factor authentication.")
    if required and not has_second_factor(user=actor.user):
        raise ServiceError("Set up two-factor authentication for yourself first, so that "
                           "you are not locked out.")
    row = security_settings(company=company)
    row.require_admin_2fa = required
    row.updated_by = actor.user
    row.updated_at = timezone.now()
    row.save()
    audit_record(company=company, action="2fa.required" if required else "2fa.not_required",
                 actor=actor.user, request=request)
    return row


def admin_needs_2fa(*, membership: Membership) -> bool:
    """Must this admin show a second factor before using the admin pages?"""
    if not membership.is_admin:
        return False
    if has_second_factor(user=membership.user):
        return True
    return security_settings(company=membership.company).require_admin_2fa


# --- The session's verification ---------------------------------------------------------------

def session_verified(request: HttpRequest) -> bool:
    mark = request.session.get(SESSION_KEY) or {}
    if mark.get("user") != request.user.pk:
        return False
    age = time.time() - float(mark.get("at", 0))
    return 0 <= age < settings.ADMIN_2FA_SESSION_HOURS * 3600


def session_mark_verified(request: HttpRequest, *, method: str) -> None:
    request.session[SESSION_KEY] = {"user": request.user.pk, "at": time.time(), "method": method}


def _failures_key(user: User) -> str:
    return f"identity:2fa-failures:{user.pk}"


def _check_attempts(user: User) -> None:
    if (cache.get(_failures_key(user)) or 0) >= MAX_FAILURES:
        raise TooManyAttempts("Too many wrong codes. Wait 15 minutes and try again.")


def _failed(user: User) -> None:
    key = _failures_key(user)
    cache.add(key, 0, timeout=15 * 60)
    cache.incr(key)


def code_verify(*, request: HttpRequest, code: str) -> str:
    """Check a TOTP or recovery code for the signed-in person; mark the session verified.
    Returns which kind it was; raises ServiceError when it is wrong."""
    user = request.user
    _check_attempts(user)
    code = "".join(code.split())
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None and len(code) == 6 and totp.wrap().validate_code(code):
        totp.record_usage()
        session_mark_verified(request, method="totp")
        return "totp"
    recovery = Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).first()
    if recovery is not None and recovery.wrap().validate_code(code):
        recovery.record_usage()
        session_mark_verified(request, method="recovery_code")
        return "recovery_code"
    _failed(user)
    raise ServiceError("That code is not right. Codes change every 30 seconds; use the newest.")


# --- Setting up and removing factors --------------------------------------------------------

def totp_activate(*, request: HttpRequest, secret: str, code: str) -> list[str]:
    """Turn on TOTP after the person proved their app has the secret; returns the recovery
    codes to show once."""
    user = request.user
    _check_attempts(user)
    if has_totp(user=user):
        raise ServiceError("An authenticator app is already set up.")
    if not secret or not validate_totp_code(secret, "".join(code.split())):
        _failed(user)
        raise ServiceError("That code is not right. Check the time on your phone and try the "
                           "newest code.")
    with transaction.atomic():
        totp = TOTP.activate(user, secret)
        # Spends the code (allauth remembers used codes for their period): no replay.
        totp.validate_code("".join(code.split()))
        codes = RecoveryCodes.activate(user).get_unused_codes()
    session_mark_verified(request, method="totp")
    return codes


def recovery_codes_regenerate(*, user: User) -> list[str]:
    if not has_second_factor(user=user):
        raise ServiceError("Set up an authenticator app or a security key first.")
    with transaction.atomic():
        Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).delete()
        return RecoveryCodes.activate(user).get_unused_codes()


def authenticator_remove(*, user: User, authenticator_id: int) -> None:
    """Remove a factor. Removing the last one also removes the recovery codes; an admin whose
    company requires 2FA will be asked to set one up again on their next admin page."""
    with transaction.atomic():
        removed, _ = Authenticator.objects.filter(
            user=user, pk=authenticator_id, type__in=SECOND_FACTORS).delete()
        if not removed:
            raise ServiceError("No such authenticator.")
        if not has_second_factor(user=user):
            Authenticator.objects.filter(user=user,
                                         type=Authenticator.Type.RECOVERY_CODES).delete()
