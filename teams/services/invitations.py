"""Personal invitations, shareable invite links and reminders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from core.emails import email_send
from core.errors import ServiceError, TokenInvalid
from core.events import MEMBER_JOINED, event_emit
from core.limits import SEATS, limit_check
from core.rls import company_scope, company_set_local, rls_bypass
from core.tokens import token_generate, token_hash

from ..models import Company, Invitation, InviteLink, Membership, Team, User
from .auth import login_link_request
from .companies import domains_parse, email_normalise, user_get_or_create

Status = Membership.Status


def emails_parse(text: str) -> list[str]:
    """Split pasted addresses (commas, semicolons, spaces, new lines) keeping order."""
    return [part for part in re.split(r"[\s,;]+", text.strip()) if part]


def invitation_url(raw_token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", kwargs={"token": raw_token})


def invite_link_url(raw_token: str) -> str:
    return settings.SITE_URL + reverse("invite_link_join", kwargs={"token": raw_token})


# --- Personal invitations ------------------------------------------------------


@dataclass(frozen=True)
class InviteOutcome:
    email: str
    ok: bool
    message: str


def invitation_create(
    *,
    company: Company,
    email: str,
    created_by: User | None,
    full_name: str = "",
    team: Team | None = None,
    job_title: str = "",
    source: str = Invitation.Source.EMAIL,
    send: bool = True,
    invite_link: InviteLink | None = None,
    check_seats: bool = True,
) -> Invitation:
    """Invite one person. Raises ServiceError with a message about this address."""
    email = email_normalise(email)
    if not company.domain_allowed(email):
        raise ServiceError(
            f"{email}: only addresses at {', '.join(company.allowed_domains)} can join "
            f"{company.name}."
        )
    if team is not None and team.company_id != company.pk:
        raise ServiceError("That team belongs to another company.")
    with transaction.atomic():
        user = user_get_or_create(email=email, full_name=full_name)
        membership = (
            Membership.objects.for_company(company).select_for_update().filter(user=user).first()
        )
        if membership is not None and membership.has_joined:
            raise ServiceError(f"{email} is already a member of {company.name}.")
        if membership is None:
            if check_seats:
                limit_check(SEATS, company=company, additional=1)
            membership = Membership.objects.create(
                company=company, user=user, team=team, job_title=job_title.strip(),
                status=Status.INVITED, added_by=created_by,
            )
        else:
            # Invited before: a new invitation replaces the old one.
            Invitation.objects.for_company(company).filter(
                membership=membership, accepted_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
            if team is not None:
                membership.team = team
            if job_title:
                membership.job_title = job_title.strip()
            if membership.status == Status.LEFT:  # a leaver invited back starts again
                membership.status = Status.INVITED
            membership.save(update_fields=["team", "job_title", "status"])
        raw, hashed = token_generate()
        invitation = Invitation.objects.create(
            company=company, membership=membership, email=email, token_hash=hashed,
            source=source, invite_link=invite_link, created_by=created_by,
            expires_at=timezone.now() + settings.INVITATION_TTL,
        )
        if send:
            _invitation_mail(invitation=invitation, raw_token=raw)
    return invitation


def invitations_create_many(
    *, company: Company, created_by: User, text: str, team: Team | None = None, send: bool = True
) -> list[InviteOutcome]:
    """Invite every pasted address; each gets its own outcome line."""
    addresses = emails_parse(text)
    if not addresses:
        raise ServiceError("Paste at least one e-mail address.")
    if len(addresses) > 1000:
        raise ServiceError("At most 1,000 addresses at a time; use the CSV import for more.")
    limit_check(SEATS, company=company, additional=len(addresses))
    outcomes: list[InviteOutcome] = []
    seen: set[str] = set()
    for raw in addresses:
        try:
            email = email_normalise(raw)
            if email in seen:
                raise ServiceError(f"{email} appears more than once.")
            seen.add(email)
            invitation_create(
                company=company, email=email, created_by=created_by, team=team, send=send,
                check_seats=False,
            )
        except ServiceError as exc:
            # Each refusal names its address once: most messages already begin with it.
            message = str(exc)
            if raw.strip().lower() not in message.lower():
                message = f"{raw}: {message}"
            outcomes.append(InviteOutcome(email=raw, ok=False, message=message))
        else:
            outcomes.append(
                InviteOutcome(email=email, ok=True, message="Invited" if send else "Saved")
            )
    return outcomes


def invitation_token_renew(
    *, company: Company, invitation: Invitation, sent: bool, reminder: bool = False
) -> str:
    """Issue a fresh token (the old link stops working) and return the new raw token.

    Tokens are stored hashed, so every send of an invitation needs a new one.
    """
    if not invitation.is_pending or invitation.membership_id is None:
        raise ServiceError(f"The invitation for {invitation.email} is no longer open.")
    raw, hashed = token_generate()
    now = timezone.now()
    updates: dict = {"token_hash": hashed, "expires_at": now + settings.INVITATION_TTL}
    if sent:
        updates["sent_at"] = now
    if reminder:
        updates["reminder_count"] = F("reminder_count") + 1
    claimed = Invitation.objects.for_company(company).filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(**updates)
    if not claimed:
        raise ServiceError(f"The invitation for {invitation.email} is no longer open.")
    invitation.refresh_from_db()
    return raw


def invitation_send(*, company: Company, invitation: Invitation, reminder: bool = False) -> None:
    """(Re)send an invitation by e-mail with a fresh link."""
    raw = invitation_token_renew(
        company=company, invitation=invitation, sent=True, reminder=reminder
    )
    _invitation_mail(invitation=invitation, raw_token=raw, reminder=reminder)


def invitations_send_pending(*, company: Company) -> int:
    """Send every invitation that was saved with "send later"."""
    pending = Invitation.objects.for_company(company).filter(
        sent_at__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
    )
    count = 0
    for invitation in pending:
        invitation_send(company=company, invitation=invitation)
        count += 1
    return count


@transaction.atomic
def invitation_revoke(*, company: Company, invitation: Invitation) -> None:
    if not invitation.is_pending:
        raise ServiceError(f"The invitation for {invitation.email} is no longer open.")
    Invitation.objects.for_company(company).filter(pk=invitation.pk).update(
        revoked_at=timezone.now(), membership=None
    )
    if invitation.membership_id:
        # Someone who never joined leaves the member list with their invitation.
        Membership.objects.for_company(company).filter(
            pk=invitation.membership_id, joined_at__isnull=True
        ).delete()


def invitation_resolve(*, raw_token: str) -> Invitation:
    """Find the invitation behind a token, or raise TokenInvalid saying why. Changes nothing."""
    # The token is what names the company here, so this lookup crosses the wall.
    with rls_bypass("an invitation's token names its company"):
        invitation = (
            Invitation.objects.unscoped()
            .select_related("company", "membership__user")
            .filter(token_hash=token_hash(raw_token))
            .first()
        )
    if invitation is None:
        raise TokenInvalid("unknown")
    if invitation.revoked_at is not None or invitation.membership_id is None:
        raise TokenInvalid("revoked")
    if invitation.accepted_at is not None:
        raise TokenInvalid("used")
    if invitation.expires_at <= timezone.now():
        raise TokenInvalid("expired")
    if not invitation.company.domain_allowed(invitation.email):
        raise TokenInvalid("domain")
    return invitation


@transaction.atomic
def invitation_accept(*, raw_token: str) -> Membership:
    """Use a personal invitation once: the person joins the company."""
    invitation = invitation_resolve(raw_token=raw_token)
    company_set_local(invitation.company_id)  # the database's wall, for this transaction
    now = timezone.now()
    claimed = Invitation.objects.for_company(invitation.company).filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now)
    if not claimed:  # lost a race with another click of the same link
        raise TokenInvalid("used")
    membership = invitation.membership
    assert membership is not None
    if membership.joined_at is None:
        membership.joined_at = now
        if membership.status == Status.INVITED:
            membership.status = Status.JOINED
        membership.save(update_fields=["joined_at", "status"])
        event_emit(MEMBER_JOINED, company_id=invitation.company_id, person=membership.pk,
                   team=membership.team_id)
    return membership


def invitation_reminders_send_due(*, now: datetime | None = None) -> int:
    """Automatic reminders: each company decides after how many days."""
    now = now or timezone.now()
    sent = 0
    for company in Company.objects.filter(reminder_after_days__gt=0):
        due_before = now - timedelta(days=company.reminder_after_days)
        due = Invitation.objects.for_company(company).filter(
            accepted_at__isnull=True, revoked_at__isnull=True, sent_at__lte=due_before,
            reminder_count__lt=settings.INVITATION_MAX_AUTO_REMINDERS,
        )
        for invitation in due:
            try:
                invitation_send(company=company, invitation=invitation, reminder=True)
            except ServiceError:
                continue  # accepted or revoked since the query: nothing to remind
            sent += 1
    return sent


def _invitation_mail(*, invitation: Invitation, raw_token: str, reminder: bool = False) -> None:
    if invitation.sent_at is None:
        Invitation.objects.for_company(invitation.company_id).filter(pk=invitation.pk).update(
            sent_at=timezone.now()
        )
    email_send(
        to=invitation.email,
        template="invitation",
        context={
            "company": invitation.company,
            "url": invitation_url(raw_token),
            "expires_at": invitation.expires_at,
            "reminder": reminder,
            "from_link": invitation.source == Invitation.Source.LINK,
        },
    )


# --- Shareable invite links ---------------------------------------------------------


def invite_link_create(
    *,
    company: Company,
    created_by: User,
    label: str = "",
    allowed_domain: str = "",
    max_uses: int | None = None,
    expires_at: datetime | None = None,
    team: Team | None = None,
) -> tuple[InviteLink, str]:
    """Create a link; the raw URL is returned once and never stored."""
    domain = ""
    if allowed_domain.strip():
        parsed = domains_parse(allowed_domain)
        if len(parsed) != 1:
            raise ServiceError("An invite link can be limited to one domain.")
        domain = parsed[0]
    if max_uses is not None and max_uses < 1:
        raise ServiceError("The usage cap must be at least 1, or empty for no cap.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.")
    if team is not None and team.company_id != company.pk:
        raise ServiceError("That team belongs to another company.")
    raw, hashed = token_generate()
    link = InviteLink.objects.create(
        company=company, created_by=created_by, label=label.strip(), allowed_domain=domain,
        max_uses=max_uses, expires_at=expires_at, team=team, token_hash=hashed,
        token_prefix=raw[:6],
    )
    return link, invite_link_url(raw)


def invite_link_revoke(*, company: Company, link: InviteLink) -> None:
    InviteLink.objects.for_company(company).filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def invite_link_resolve(*, raw_token: str) -> InviteLink:
    """Find a usable link or raise TokenInvalid saying why. Changes nothing."""
    # The token names the company, so the lookup crosses the wall.
    with rls_bypass("an invite link's token names its company"):
        link = (
            InviteLink.objects.unscoped()
            .select_related("company")
            .filter(token_hash=token_hash(raw_token))
            .first()
        )
    if link is None:
        raise TokenInvalid("unknown")
    if link.revoked_at is not None:
        raise TokenInvalid("revoked")
    if link.expires_at is not None and link.expires_at <= timezone.now():
        raise TokenInvalid("expired")
    if link.max_uses is not None and link.uses >= link.max_uses:
        raise TokenInvalid("used_up")
    return link


def invite_link_email_allowed(*, link: InviteLink, email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    if link.allowed_domain and domain != link.allowed_domain:
        return False
    return link.company.domain_allowed(email)


def invite_link_use(*, raw_token: str, email: str, full_name: str) -> Invitation | None:
    """Someone asks to join through a shared link.

    The address is not trusted yet: one use of the link is taken and a personal
    invitation is e-mailed, and clicking it is what joins the company. Returns
    None when the address already belongs to a member (they get a sign-in link
    instead, and no use is taken).
    """
    link = invite_link_resolve(raw_token=raw_token)
    with company_scope(link.company_id):  # the database's wall: the link's company
        return _invite_link_use(link=link, email=email, full_name=full_name)


def _invite_link_use(*, link: InviteLink, email: str, full_name: str) -> Invitation | None:
    email = email_normalise(email)
    if not full_name.strip():
        raise ServiceError("Please enter your name.")
    if not invite_link_email_allowed(link=link, email=email):
        allowed = link.allowed_domain or ", ".join(link.company.allowed_domains)
        raise TokenInvalid("domain", f"This link only accepts addresses at {allowed}.")
    company = link.company
    existing = (
        Membership.objects.for_company(company).filter(user__email__iexact=email).first()
    )
    if existing is not None and existing.has_joined:
        login_link_request(email=email)
        return None
    with transaction.atomic():
        # The cap is enforced by this conditional UPDATE: two people racing for the
        # last use both reach it, PostgreSQL serialises them on the row lock, and
        # only the first still matches `uses < max_uses`.
        claimed = InviteLink.objects.for_company(company).filter(
            Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")),
            pk=link.pk, revoked_at__isnull=True,
        ).update(uses=F("uses") + 1)
        if not claimed:
            raise TokenInvalid("used_up")
        return invitation_create(
            company=company, email=email, full_name=full_name, team=link.team,
            created_by=None, source=Invitation.Source.LINK, invite_link=link,
        )
