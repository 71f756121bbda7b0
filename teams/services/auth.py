"""Password-free sign-in for employees: single-use links sent by e-mail."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.emails import email_send
from core.errors import ServiceError, TokenInvalid
from core.events import MEMBER_JOINED, event_emit
from core.limits import SEATS, limit_check
from core.rls import rls_bypass
from core.tokens import token_generate, token_hash

from ..models import Company, Invitation, LoginToken, Membership, Team, User
from .companies import email_normalise, user_get_or_create


def login_link_request(*, email: str) -> None:
    """E-mail a sign-in link if the address belongs to a member.

    Says nothing either way to the caller, so the form cannot be used to find
    out who works where. Limited per person per hour against mail bombing.
    """
    try:
        email = email_normalise(email)
    except ServiceError:
        return
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return
    # A person with a joined membership anywhere may sign in; which companies
    # they see is decided per request by the tenant wall.
    joined = Membership.objects.unscoped().filter(user=user, joined_at__isnull=False)
    with rls_bypass("may this person sign in at all: their own memberships, any company"):
        if not joined.exists():
            return
    hour_ago = timezone.now() - timedelta(hours=1)
    if user.login_tokens.filter(created_at__gte=hour_ago).count() >= settings.MAGIC_LINKS_PER_HOUR:
        return
    raw, hashed = token_generate()
    LoginToken.objects.create(
        user=user, token_hash=hashed, expires_at=timezone.now() + settings.MAGIC_LINK_TTL
    )
    email_send(
        to=user.email,
        template="login_link",
        context={
            "user": user,
            "url": settings.SITE_URL + reverse("login_link_consume", kwargs={"token": raw}),
            "minutes": int(settings.MAGIC_LINK_TTL.total_seconds() // 60),
        },
    )


def login_link_resolve(*, raw_token: str) -> LoginToken:
    """Check a sign-in link without using it (GET must not spend it: mail scanners click)."""
    token = LoginToken.objects.select_related("user").filter(token_hash=token_hash(raw_token)).first()
    if token is None or not token.user.is_active:
        raise TokenInvalid("unknown")
    if token.used_at is not None:
        raise TokenInvalid("used")
    if token.expires_at <= timezone.now():
        raise TokenInvalid("expired")
    return token


def login_link_consume(*, raw_token: str) -> User:
    token = login_link_resolve(raw_token=raw_token)
    now = timezone.now()
    claimed = LoginToken.objects.filter(pk=token.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if not claimed:
        raise TokenInvalid("used")
    return token.user


def password_setup_url(*, user: User) -> str:
    """A one-time link to choose a password (Django's reset token: invalid once used)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse(
        "password_reset_confirm", kwargs={"uidb64": uid, "token": token}
    )


@transaction.atomic
def member_add_on_behalf(
    *,
    company: Company,
    actor: Membership,
    email: str,
    full_name: str,
    team: Team | None = None,
    job_title: str = "",
    send_sign_in_link: bool = False,
) -> Membership:
    """An admin adds an employee directly (e.g. someone without access to e-mail at work).

    The person is a member at once; an admin can then act for them. Optionally
    they get a sign-in link so they can take over themselves.
    """
    if not actor.is_admin:
        raise ServiceError("Only the company's admins can add people.")
    email = email_normalise(email)
    if not full_name.strip():
        raise ServiceError("Enter the person's name.")
    if not company.domain_allowed(email):
        raise ServiceError(f"Only addresses at {', '.join(company.allowed_domains)} can join.")
    if team is not None and team.company_id != company.pk:
        raise ServiceError("That team belongs to another company.")
    user = user_get_or_create(email=email, full_name=full_name)
    membership = Membership.objects.for_company(company).filter(user=user).first()
    if membership is not None and membership.has_joined:
        raise ServiceError(f"{email} is already a member.")
    now = timezone.now()
    if membership is None:
        limit_check(SEATS, company=company, additional=1)
        membership = Membership(company=company, user=user, invited_at=now)
    else:
        Invitation.objects.for_company(company).filter(
            membership=membership, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
    membership.team = team
    membership.job_title = job_title.strip()
    membership.status = Membership.Status.JOINED
    membership.joined_at = now
    membership.added_by = actor.user
    membership.save()
    event_emit(MEMBER_JOINED, company_id=company.pk, person=membership.pk,
               team=membership.team_id)
    if send_sign_in_link:
        login_link_request(email=email)
    return membership
