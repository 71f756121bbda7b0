"""What provisioning does to the company: people are invited (never pre-consented: consent is
theirs to give when they act), leave by the company's leaver policy when deactivated or
deleted, and groups become teams.

Every change goes through the teams services (invitations, membership_update, team_*,
membership_remove: the leaver erasure and its receipts), acting with the owner's authority
since the token speaks for the company; the audit log names the token as the actor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import ServiceError
from core.rls import rls_bypass
from teams.models import Company, Invitation, Membership, Team, User
from teams.services.companies import (
    membership_remove,
    membership_update,
    team_create,
    team_rename,
)
from teams.services.invitations import email_normalise, invitation_create

from ..audit import audit_record
from ..models import ScimGroup, ScimGroupMember, ScimToken, ScimUser, SecuritySettings
from ..personal_data import scim_user_minimise

Status = Membership.Status


class ScimError(ServiceError):
    def __init__(self, detail: str, *, status: int = 400, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.scim_type = scim_type


@dataclass
class UserFields:
    user_name: str
    email: str
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    title: str = ""
    active: bool = True


@dataclass
class GroupFields:
    display_name: str
    external_id: str = ""
    members: list[str] | None = field(default=None)  # SCIM ids; None: leave as they are


def _actor_label(token: ScimToken) -> str:
    return f"SCIM token {token.name} ({token.prefix}…)"


def _owner(company: Company) -> Membership:
    return (Membership.objects.for_company(company).select_related("user", "company")
            .get(role=Membership.Role.OWNER))


def _audit(company: Company, token: ScimToken, action: str, target: str, **details) -> None:
    audit_record(company=company, action=action, actor_label=_actor_label(token),
                 target=target, details=details)


def _clean(fields: UserFields) -> UserFields:
    fields.user_name = fields.user_name.strip()
    if not fields.user_name or len(fields.user_name) > 255:
        raise ScimError("userName is required (at most 255 characters).", scim_type="invalidValue")
    try:
        fields.email = email_normalise(fields.email or fields.user_name)
    except ServiceError as exc:
        raise ScimError("A work e-mail address is required (emails or an e-mail userName).",
                        scim_type="invalidValue") from exc
    for name, limit in (("external_id", 255), ("given_name", 150), ("family_name", 150),
                        ("display_name", 255), ("title", 120)):
        setattr(fields, name, (getattr(fields, name) or "").strip()[:limit])
    return fields


def _full_name(fields: UserFields) -> str:
    return fields.display_name or " ".join(p for p in (fields.given_name, fields.family_name) if p)


def _check_unique(company: Company, fields: UserFields, exclude: int | None = None) -> None:
    others = ScimUser.objects.for_company(company).exclude(pk=exclude)
    if others.alias(name=Lower("user_name")).filter(name=fields.user_name.lower()).exists():
        raise ScimError(f"userName {fields.user_name!r} is already provisioned.", status=409,
                        scim_type="uniqueness")
    if others.filter(email__iexact=fields.email).exists():
        # Two directory entries would share one membership: one's leaving would remove both.
        raise ScimError(f"{fields.email} is already provisioned under another userName.",
                        status=409, scim_type="uniqueness")
    if fields.external_id and others.filter(external_id=fields.external_id).exists():
        raise ScimError(f"externalId {fields.external_id!r} is already provisioned.", status=409,
                        scim_type="uniqueness")


def _invite(company: Company, fields: UserFields) -> Membership:
    """The person's membership: an existing one as it is, or a new invitation."""
    existing = (Membership.objects.for_company(company).select_related("user")
                .filter(user__email__iexact=fields.email).first())
    if existing is not None and existing.has_joined:
        return existing
    send = (SecuritySettings.objects.for_company(company)
            .values_list("scim_send_invitations", flat=True).first())
    try:
        invitation = invitation_create(
            company=company, email=fields.email, created_by=None, full_name=_full_name(fields),
            job_title=fields.title, source=Invitation.Source.SCIM,
            send=True if send is None else send)
    except ServiceError as exc:
        raise ScimError(str(exc), scim_type="invalidValue") from exc
    membership = invitation.membership
    assert membership is not None
    return membership


def _leave(company: Company, scim_user: ScimUser, token: ScimToken, action: str) -> dict:
    """Run the company's leaver policy for the person (teams.membership_remove: erasure with
    receipts). The owner is never removed by provisioning: the company's way back in."""
    membership = (Membership.objects.for_company(company).select_related("user")
                  .filter(pk=scim_user.membership_id).first())
    if membership is None or membership.status == Status.LEFT:
        return {"membership": None}
    if membership.role == Membership.Role.OWNER:
        _audit(company, token, action, scim_user.user_name, owner_kept=True,
               note="The owner is never removed by provisioning; transfer ownership first.")
        return {"membership": membership.pk, "owner_kept": True}
    user_id = membership.user_id
    membership_remove(company=company, actor=_owner(company), membership=membership)
    _audit(company, token, action, scim_user.user_name, membership=membership.pk,
           subject_user_id=user_id)
    return {"membership": membership.pk, "subject_user_id": user_id}


def _user_details_apply(company: Company, scim_user: ScimUser, fields: UserFields) -> None:
    """Name, e-mail and title changes reach the person's account where that is safe."""
    membership = (Membership.objects.for_company(company).select_related("user", "team")
                  .filter(pk=scim_user.membership_id).first())
    if membership is None:
        return
    user = membership.user
    with rls_bypass("does the account belong to another company too"):
        only_here = not Membership.objects.unscoped().filter(user=user).exclude(
            company=company).exists()
    if fields.email != user.email.lower():
        if not only_here:
            raise ScimError("This person's account belongs to other companies too; their "
                            "e-mail address cannot be changed here.", status=409,
                            scim_type="mutability")
        if User.objects.alias(e=Lower("email")).filter(e=fields.email).exclude(
                pk=user.pk).exists():
            raise ScimError(f"{fields.email} belongs to another account.", status=409,
                            scim_type="uniqueness")
        User.objects.filter(pk=user.pk).update(email=fields.email)
    name = _full_name(fields)
    if name and only_here and name != user.full_name:
        User.objects.filter(pk=user.pk).update(full_name=name[:200])
    if fields.title != membership.job_title:
        membership_update(company=company, actor=_owner(company), membership=membership,
                          team=membership.team, job_title=fields.title)


@transaction.atomic
def scim_user_create(*, company: Company, fields: UserFields, token: ScimToken) -> ScimUser:
    fields = _clean(fields)
    _check_unique(company, fields)
    membership = _invite(company, fields) if fields.active else None
    try:
        with transaction.atomic():
            scim_user = ScimUser.objects.create(
                company=company, membership=membership, user_name=fields.user_name,
                email=fields.email, external_id=fields.external_id, given_name=fields.given_name,
                family_name=fields.family_name, display_name=fields.display_name,
                title=fields.title, active=fields.active)
            if not fields.active:
                scim_user_minimise(scim_user)
                scim_user.save()
    except IntegrityError as exc:  # a concurrent create of the same person
        raise ScimError("This person is already provisioned.", status=409,
                        scim_type="uniqueness") from exc
    _audit(company, token, "scim.user_provisioned", fields.user_name, email=fields.email,
           invited=membership is not None and not membership.has_joined)
    return scim_user


@transaction.atomic
def scim_user_update(*, company: Company, scim_user: ScimUser, fields: UserFields,
                     token: ScimToken) -> ScimUser:
    fields = _clean(fields)
    _check_unique(company, fields, exclude=scim_user.pk)
    was_active = scim_user.active
    if was_active and fields.active:
        _user_details_apply(company, scim_user, fields)
    for name in ("user_name", "email", "external_id", "given_name", "family_name",
                 "display_name", "title", "active"):
        setattr(scim_user, name, getattr(fields, name))
    scim_user.updated_at = timezone.now()
    if was_active and not fields.active:
        _leave(company, scim_user, token, "scim.user_deactivated")
        scim_user.membership = (Membership.objects.for_company(company)
                                .filter(pk=scim_user.membership_id).first())
    elif not was_active and fields.active:
        scim_user.membership = _invite(company, fields)
        _audit(company, token, "scim.user_reactivated", fields.user_name, email=fields.email)
    elif was_active:
        _audit(company, token, "scim.user_updated", fields.user_name)
    if not fields.active:
        # An inactive user keeps only the provider's identifiers (identity/personal_data.py).
        scim_user_minimise(scim_user)
    scim_user.save()
    if fields.active:
        teams_sync(company=company, scim_users=[scim_user])
    return scim_user


@transaction.atomic
def scim_user_delete(*, company: Company, scim_user: ScimUser, token: ScimToken) -> None:
    if scim_user.active:
        _leave(company, scim_user, token, "scim.user_deleted")
    else:
        _audit(company, token, "scim.user_deleted", scim_user.user_name)
    ScimUser.objects.for_company(company).filter(pk=scim_user.pk).delete()


# --- Groups and teams ----------------------------------------------------------------------

def _team_for(company: Company, name: str) -> tuple[Team, bool]:
    team = Team.objects.for_company(company).filter(name__iexact=name).first()
    if team is not None:
        return team, False
    try:
        return team_create(company=company, actor=_owner(company), name=name), True
    except ServiceError:  # created concurrently
        return Team.objects.for_company(company).get(name__iexact=name), False


def _members_resolve(company: Company, ids: list[str]) -> list[ScimUser]:
    parsed = []
    for raw in ids:
        try:
            parsed.append(uuid.UUID(str(raw)))
        except (ValueError, AttributeError) as exc:
            raise ScimError(f"{raw!r} is not the id of a provisioned user.",
                            scim_type="invalidValue") from exc
    found = list(ScimUser.objects.for_company(company).filter(scim_id__in=parsed))
    if len({u.scim_id for u in found}) != len(set(parsed)):
        raise ScimError("A member is not a user provisioned for this company.",
                        scim_type="invalidValue")
    return found


def teams_sync(*, company: Company, scim_users: list[ScimUser],
               also_group_teams: frozenset[int] = frozenset()) -> None:
    """Each person's team is that of the group they were last added to; someone in no group
    keeps a team an admin gave them, but not one that only a group gave them."""
    group_teams = set(ScimGroup.objects.for_company(company).exclude(team=None)
                      .values_list("team_id", flat=True)) | set(also_group_teams)
    owner = None
    for scim_user in scim_users:
        membership = (Membership.objects.for_company(company).select_related("team")
                      .filter(pk=scim_user.membership_id).exclude(status=Status.LEFT).first())
        if membership is None:
            continue
        link = (ScimGroupMember.objects.for_company(company).select_related("group")
                .filter(user=scim_user, group__team__isnull=False)
                .order_by("-added_at", "-pk").first())
        if link is not None:
            team_id = link.group.team_id
        elif membership.team_id in group_teams:
            team_id = None
        else:
            continue
        if membership.team_id != team_id:
            owner = owner or _owner(company)
            team = Team.objects.for_company(company).filter(pk=team_id).first()
            membership_update(company=company, actor=owner, membership=membership, team=team,
                              job_title=membership.job_title)


@transaction.atomic
def scim_group_save(*, company: Company, group: ScimGroup | None, fields: GroupFields,
                    token: ScimToken) -> ScimGroup:
    name = fields.display_name.strip()
    if not name or len(name) > 120:
        raise ScimError("displayName is required (at most 120 characters).",
                        scim_type="invalidValue")
    clash = ScimGroup.objects.for_company(company).filter(display_name__iexact=name)
    if group is not None:
        clash = clash.exclude(pk=group.pk)
    if clash.exists():
        raise ScimError(f"A group called {name!r} is already provisioned.", status=409,
                        scim_type="uniqueness")
    created = group is None
    if created:
        team, _ = _team_for(company, name)
        group = ScimGroup.objects.create(company=company, display_name=name, team=team,
                                         external_id=fields.external_id.strip()[:255])
    else:
        if group.display_name != name and group.team is not None:
            try:
                team_rename(company=company, actor=_owner(company), team=group.team, name=name)
            except ServiceError as exc:
                raise ScimError(str(exc), status=409, scim_type="uniqueness") from exc
        elif group.team is None:
            group.team, _ = _team_for(company, name)
        group.display_name = name
        group.external_id = fields.external_id.strip()[:255]
        group.updated_at = timezone.now()
        group.save()
    if fields.members is not None:
        scim_group_members_set(company=company, group=group, member_ids=fields.members)
    _audit(company, token, "scim.group_created" if created else "scim.group_updated", name)
    return group


def _links_changed(company: Company, users: list[ScimUser]) -> None:
    teams_sync(company=company, scim_users=users)


def scim_group_members_set(*, company: Company, group: ScimGroup, member_ids: list[str]) -> None:
    wanted = {u.pk: u for u in _members_resolve(company, member_ids)}
    current = {link.user_id: link for link in
               ScimGroupMember.objects.for_company(company).filter(group=group)}
    removed = [uid for uid in current if uid not in wanted]
    ScimGroupMember.objects.for_company(company).filter(group=group, user_id__in=removed).delete()
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(company=company, group=group, user=u) for pk, u in wanted.items()
         if pk not in current], ignore_conflicts=True)
    touched = list(ScimUser.objects.for_company(company).filter(pk__in=set(wanted) | set(removed)))
    _links_changed(company, touched)


def scim_group_members_add(*, company: Company, group: ScimGroup, member_ids: list[str]) -> None:
    users = _members_resolve(company, member_ids)
    now = timezone.now()
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(company=company, group=group, user=u, added_at=now) for u in users],
        ignore_conflicts=True)
    _links_changed(company, users)


def scim_group_members_remove(*, company: Company, group: ScimGroup,
                              member_ids: list[str]) -> None:
    users = _members_resolve(company, member_ids)
    ScimGroupMember.objects.for_company(company).filter(
        group=group, user__in=users).delete()
    _links_changed(company, users)


@transaction.atomic
def scim_group_delete(*, company: Company, group: ScimGroup, token: ScimToken) -> None:
    users = list(ScimUser.objects.for_company(company).filter(group_links__group=group))
    ScimGroup.objects.for_company(company).filter(pk=group.pk).delete()
    # The team stays for the admin to delete; only the people it was given to by this group
    # move to their next group's team (or none).
    teams_sync(company=company, scim_users=users,
               also_group_teams=frozenset([group.team_id]) if group.team_id else frozenset())
    _audit(company, token, "scim.group_deleted", group.display_name)


def audit_group_members(*, company: Company, group: ScimGroup, token: ScimToken,
                        changes: list[tuple[str, int]]) -> None:
    _audit(company, token, "scim.group_updated", group.display_name,
           members=[f"{op} {count}" for op, count in changes])
