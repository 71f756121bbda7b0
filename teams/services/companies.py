"""Companies, teams, memberships and roles."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from core.events import MEMBER_LEFT, event_emit
from core.rls import rls_bypass

from ..models import Company, Invitation, InviteLink, Membership, Team, User

Role = Membership.Role
# Checks, registered by the apps above teams in their AppConfig.ready(), that say whether
# something of a leaver is kept that needs their membership row (an approved headshot that
# the company's leaver policy keeps): the row then stays, as "left", instead of going.
_membership_holds: list[Callable[[Company, Membership], bool]] = []
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def domains_parse(text: str) -> list[str]:
    """Parse 'acme.com, acme.co.uk' into a clean list, or raise with the bad entry."""
    domains: list[str] = []
    for raw in re.split(r"[\s,;]+", text.strip().lower()):
        if not raw:
            continue
        domain = raw.lstrip("@")
        if not _DOMAIN_RE.match(domain):
            raise ServiceError(f"“{raw}” is not a domain name (example: acme.com).")
        if domain not in domains:
            domains.append(domain)
    return domains


def email_normalise(raw: str) -> str:
    """Return a lower-cased address or raise ServiceError naming the bad input."""
    email = raw.strip().strip("<>").lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError(f"“{raw.strip()}” is not an e-mail address.") from exc
    return email


def user_get_or_create(*, email: str, full_name: str = "") -> User:
    email = email.strip().lower()
    # LOWER(email) = …, not email__iexact (UPPER(email) = UPPER(…)): it matches the unique
    # index user_email_ci_unique instead of scanning every user (CSV imports call this per row).
    user = User.objects.alias(email_lower=Lower("email")).filter(email_lower=email).first()
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name.strip())
    elif full_name and not user.full_name:
        user.full_name = full_name.strip()
        user.save(update_fields=["full_name"])
    return user


@transaction.atomic
def company_create(*, name: str, slug: str, owner_email: str, owner_name: str = "") -> Company:
    name = name.strip()
    slug = slug.strip().lower()
    if not name:
        raise ServiceError("A company needs a name.")
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise ServiceError(f"“{slug}” cannot be used in a web address: {exc.messages[0]}") from exc
    if Company.objects.filter(slug=slug).exists():
        raise ServiceError(f"The address /c/{slug}/ is already taken.")
    try:
        validate_email(owner_email.strip())
    except ValidationError as exc:
        raise ServiceError(f"“{owner_email.strip()}” is not an e-mail address.") from exc
    company = Company.objects.create(name=name, slug=slug)
    owner = user_get_or_create(email=owner_email, full_name=owner_name)
    now = timezone.now()
    Membership.objects.create(
        company=company, user=owner, role=Role.OWNER, status=Membership.Status.JOINED,
        invited_at=now, joined_at=now,
    )
    return company


def company_settings_update(
    *, company: Company, actor: Membership, name: str, allowed_domains: str,
    reminder_after_days: int, redo_limit: int | None = None,
    likeness_threshold: float | None = None,
) -> Company:
    _require_admin(actor)
    if not name.strip():
        raise ServiceError("A company needs a name.")
    if not 0 <= reminder_after_days <= 60:
        raise ServiceError("Reminders can be sent after 1 to 60 days, or 0 for never.")
    if redo_limit is not None and not 0 <= redo_limit <= 20:
        raise ServiceError("Redos per person can be 0 to 20.")
    # Looser than dlib's own same-person distance (0.6) would let look-alikes through.
    if likeness_threshold is not None and not 0.3 <= likeness_threshold <= 0.6:
        raise ServiceError("The likeness threshold can be 0.30 to 0.60 (lower is stricter).")
    domains = domains_parse(allowed_domains)  # may raise: before the company is touched
    company.name = name.strip()
    company.allowed_domains = domains
    company.reminder_after_days = reminder_after_days
    if redo_limit is not None:
        company.redo_limit = redo_limit
    company.likeness_threshold = likeness_threshold
    company.save(update_fields=["name", "allowed_domains", "reminder_after_days", "redo_limit",
                                "likeness_threshold"])
    return company


def team_create(*, company: Company, actor: Membership, name: str) -> Team:
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise ServiceError("A team needs a name.")
    if Team.objects.for_company(company).filter(name__iexact=name).exists():
        raise ServiceError(f"There is already a team called “{name}”.")
    try:
        with transaction.atomic():
            return Team.objects.create(company=company, name=name)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise ServiceError(f"There is already a team called “{name}”.") from exc


def team_rename(*, company: Company, actor: Membership, team: Team, name: str) -> Team:
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise ServiceError("A team needs a name.")
    clash = Team.objects.for_company(company).filter(name__iexact=name).exclude(pk=team.pk)
    if clash.exists():
        raise ServiceError(f"There is already a team called “{name}”.")
    team.name = name
    team.save(update_fields=["name"])
    return team


def team_delete(*, company: Company, actor: Membership, team: Team) -> None:
    _require_admin(actor)
    # Members stay in the company, without a team (SET_NULL).
    Team.objects.for_company(company).filter(pk=team.pk).delete()


def membership_update(
    *, company: Company, actor: Membership, membership: Membership,
    team: Team | None, job_title: str, role: str | None = None,
) -> Membership:
    _require_admin(actor)
    if team is not None and team.company_id != company.pk:
        raise ServiceError("That team belongs to another company.")
    membership.team = team
    membership.job_title = job_title.strip()
    fields = ["team", "job_title"]
    if role is not None and role != membership.role:
        if Role.OWNER in (role, membership.role):
            raise ServiceError("The owner changes only by transferring ownership.")
        if role not in (Role.ADMIN, Role.MEMBER):
            raise ServiceError("Unknown role.")
        if actor.role != Role.OWNER:
            raise NotAllowed("Only the owner can make or remove admins.")
        membership.role = role
        fields.append("role")
    membership.save(update_fields=fields)
    return membership


def membership_remove(*, company: Company, actor: Membership, membership: Membership) -> None:
    """Remove a person from the company (a leaver).

    ``member.left`` goes out first, while the membership still exists: privacy erases
    everything stored about them (files first, then rows, with a receipt each) inside this
    call, as the company's leaver policy says. Then the membership and their invitations
    go; the consent log keeps its proof. Where something kept still needs the membership
    (``membership_hold_register``), it stays as "left": no sign-in, no role.
    """
    _require_admin(actor)
    if membership.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    if membership.role == Role.OWNER:
        raise ServiceError("The owner cannot be removed; transfer ownership first.")
    if membership.role == Role.ADMIN and actor.role != Role.OWNER:
        raise NotAllowed("Only the owner can remove an admin.")
    event_emit(MEMBER_LEFT, company_id=company.pk, person=membership.pk,
               user=membership.user_id)
    if any(held(company, membership) for held in list(_membership_holds)):
        with transaction.atomic():
            Invitation.objects.for_company(company).filter(membership=membership).delete()
            Membership.objects.for_company(company).filter(pk=membership.pk).update(
                status=Membership.Status.LEFT, role=Role.MEMBER, joined_at=None)
        return
    membership_delete(company=company, membership=membership)


def membership_hold_register(held: Callable[[Company, Membership], bool]) -> None:
    """``held(company, membership)`` is True while a leaver's membership must stay."""
    if held not in _membership_holds:
        _membership_holds.append(held)


def membership_delete(*, company: Company, membership: Membership) -> None:
    """The membership and the invitations that named the person (their data is erased
    already); an account that belongs nowhere else is forgotten."""
    with transaction.atomic():
        Invitation.objects.for_company(company).filter(membership=membership).delete()
        Membership.objects.for_company(company).filter(pk=membership.pk).delete()
        user_forget(user_id=membership.user_id)


def user_forget(*, user_id: int) -> None:
    """A person who belongs to no company any more: their account goes too.

    Anonymised rather than deleted: ledger lines they made as an admin point at the row,
    and the ledger is append-only.
    """
    # Member elsewhere? Their memberships in every company count, past the database's wall.
    with rls_bypass("does the person still belong to any company"):
        if Membership.objects.unscoped().filter(user_id=user_id).exists():
            return
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_staff:
        return
    user.email = f"erased-{user.pk}@erased.invalid"
    user.full_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["email", "full_name", "is_active", "password"])
    user.login_tokens.all().delete()


def company_people_records_delete(*, company: Company) -> None:
    """A closed company's invitations, invite links and teams (its people are gone)."""
    with transaction.atomic():
        Invitation.objects.for_company(company).delete()
        InviteLink.objects.for_company(company).delete()
        Team.objects.for_company(company).delete()


@transaction.atomic
def ownership_transfer(*, company: Company, actor: Membership, new_owner: Membership) -> None:
    if actor.role != Role.OWNER:
        raise NotAllowed("Only the owner can transfer ownership.")
    if new_owner.pk == actor.pk:
        raise ServiceError("You already own this company.")
    if new_owner.company_id != company.pk or not new_owner.has_joined:
        raise ServiceError("Ownership can only go to someone who has joined the company.")
    scoped = Membership.objects.for_company(company).select_for_update()
    # Lock both rows; demote first so the one-owner constraint holds at every step.
    list(scoped.filter(pk__in=[actor.pk, new_owner.pk]))
    scoped.filter(pk=actor.pk).update(role=Role.ADMIN)
    scoped.filter(pk=new_owner.pk).update(role=Role.OWNER)


def company_admin_required(*, actor: Membership, company: Company, to: str = "do this") -> None:
    """Refused (NotAllowed) unless ``actor`` is one of ``company``'s admins; ``to`` ends the
    sentence "Only the company's admins can …"."""
    if actor.company_id != company.pk or not actor.is_admin:
        raise NotAllowed(f"Only the company's admins can {to}.")


def _require_admin(actor: Membership) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only the company's admins can do this.")
