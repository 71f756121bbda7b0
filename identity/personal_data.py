"""Identity's personal data, registered with privacy (privacy/registry.py) in
IdentityConfig.ready(), so erasure and the data-subject export reach it like everyone else's:

- ``scim_user``: a person as the company's directory provisioned them (SCIM). When they go
  (a leaver, however they left; an erasure request; the company closed) their names and
  title, and their group memberships, are erased. A deactivated SCIM user keeps only what
  the identity provider needs to keep provisioning in step (its id, externalId, userName and
  e-mail, active=false): the provider still reads it and may reactivate it (RFC 7644 §3.6),
  and a SCIM DELETE removes it entirely.
- ``audit_event``: the admin-action log's lines in which the person acted or was acted on.
  The lines stay (the company's record of what its admins did) but name an erased person
  instead of them, and their e-mail is taken out of the details. The log has a retention
  period of its own (audit_log_hours).
- SSO sign-ins store no identity of their own (allauth's SocialAccount rows are never made,
  identity/sso/adapters.py): what a sign-in leaves is an audit line, covered above.

When the company closes, every identity record of it goes (company_records_register).
Consent withdrawal leaves all of this alone (``kept_on_withdrawal``): it is about photos
and face data, and the person still works there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from privacy.deletion import receipt_make, receipt_write, receipts_write, row_delete
from privacy.dsr import ExportArchive
from privacy.registry import (
    PersonalData,
    RetentionRule,
    company_records_register,
    personal_data_register,
)
from teams.models import Company, Membership, User

from .models import (
    AuditEvent,
    EmailDomain,
    ScimGroup,
    ScimGroupMember,
    ScimToken,
    ScimUser,
    SecuritySettings,
    SsoConnection,
)

# What a SCIM user no longer holds once inactive: all but the provider's identifiers.
SCIM_PERSONAL_FIELDS = ("given_name", "family_name", "display_name", "title")
ERASED = "erased person"


def scim_user_minimise(scim_user: ScimUser) -> None:
    """Blank, in memory, what an inactive SCIM user does not keep (its save stores it)."""
    for name in SCIM_PERSONAL_FIELDS:
        setattr(scim_user, name, "")


# --- SCIM users --------------------------------------------------------------------------


def _scim_users_of(company: Company, membership: Membership) -> Iterator[ScimUser]:
    return iter(ScimUser.objects.for_company(company).filter(membership=membership))


def scim_user_erase(scim_user: ScimUser, rule: str, subject_user_id: int | None) -> None:
    with transaction.atomic():
        ScimGroupMember.objects.for_company(scim_user.company_id).filter(
            user_id=scim_user.pk).delete()
        ScimUser.objects.for_company(scim_user.company_id).filter(pk=scim_user.pk).update(
            **{name: "" for name in SCIM_PERSONAL_FIELDS}, updated_at=timezone.now())
        receipt_write(company_id=scim_user.company_id, kind="scim_user",
                      object_ref=f"scim_user:{scim_user.pk}", subject_user_id=subject_user_id,
                      rule=rule)


def _export_scim_users(company: Company, membership: Membership, archive: ExportArchive) -> None:
    archive.data["provisioning"] = [
        {"user_name": user.user_name, "email": user.email, "external_id": user.external_id,
         "given_name": user.given_name, "family_name": user.family_name,
         "display_name": user.display_name, "title": user.title, "active": user.active,
         "groups": sorted(ScimGroup.objects.for_company(company).filter(
             links__user=user).values_list("display_name", flat=True)),
         "provisioned_at": user.created_at.isoformat()}
        for user in ScimUser.objects.for_company(company).filter(membership=membership)]


# --- Audit log ------------------------------------------------------------------------------


def _identifiers(company_id: int, user_id: int | None) -> set[str]:
    """How the audit log names a person: their e-mail, and their SCIM userNames here."""
    if user_id is None:
        return set()
    names = {email.lower() for email in User.objects.filter(pk=user_id).values_list(
        "email", flat=True)}
    names |= {name.lower() for name in ScimUser.objects.for_company(company_id).filter(
        membership__user_id=user_id).values_list("user_name", flat=True)}
    return names


def _audit_of(company: Company, membership: Membership) -> QuerySet[AuditEvent]:
    named = Q(actor_id=membership.user_id)
    for name in _identifiers(company.pk, membership.user_id):
        named |= Q(target__iexact=name) | Q(actor_label__iexact=name)
    return AuditEvent.objects.for_company(company).filter(named)


def _audit_events_of(company: Company, membership: Membership) -> Iterator[AuditEvent]:
    return iter(_audit_of(company, membership))


def audit_event_erase(event: AuditEvent, rule: str, subject_user_id: int | None) -> None:
    """The line stays, naming an erased person; their identifiers leave its details."""
    names = _identifiers(event.company_id, subject_user_id)
    fields: dict = {"details": {key: value for key, value in (event.details or {}).items()
                                if not (isinstance(value, str) and value.lower() in names)}}
    if (subject_user_id is not None and event.actor_id == subject_user_id) or \
            event.actor_label.lower() in names:
        fields.update(actor=None, actor_label=ERASED)
    if event.target.lower() in names:
        fields["target"] = ERASED
    with transaction.atomic():
        AuditEvent.objects.for_company(event.company_id).filter(pk=event.pk).update(**fields)
        receipt_write(company_id=event.company_id, kind="audit_event",
                      object_ref=f"audit_event:{event.pk}", subject_user_id=subject_user_id,
                      rule=rule)


def _export_audit(company: Company, membership: Membership, archive: ExportArchive) -> None:
    archive.data["admin_actions"] = [
        {"action": event.action, "at": event.created_at.isoformat(),
         "as": "actor" if event.actor_id == membership.user_id else "subject"}
        for event in _audit_of(company, membership).order_by("created_at", "pk")]


def _audit_due(company: Company, cutoff: datetime) -> QuerySet:
    return AuditEvent.objects.for_company(company).filter(created_at__lte=cutoff)


# --- A closed company ------------------------------------------------------------------


def company_identity_erase(company: Company, rule: str) -> None:
    """Every identity record of a closed company: provisioning, SSO set-up, domains,
    tokens, security settings, the audit log. One receipt per table."""
    receipts = []
    with transaction.atomic():
        for model in (ScimGroupMember, ScimGroup, ScimUser, ScimToken, SsoConnection,
                      EmailDomain, SecuritySettings, AuditEvent):
            count, _ = model.objects.for_company(company).delete()
            if count:
                receipts.append(receipt_make(
                    company_id=company.pk, kind="identity_records",
                    object_ref=f"{model._meta.db_table}:company:{company.pk}",
                    subject_user_id=None, rule=rule))
        receipts_write(receipts)


def register() -> None:
    personal_data_register(PersonalData(
        kind="scim_user", of_person=_scim_users_of, erase=scim_user_erase,
        export=_export_scim_users, kept_on_withdrawal=True))
    personal_data_register(PersonalData(
        kind="audit_event", of_person=_audit_events_of, erase=audit_event_erase,
        export=_export_audit, kept_on_withdrawal=True,
        rules=(RetentionRule("audit.admin_actions", "audit_log_hours", _audit_due,
                             row_delete),)))
    company_records_register(company_identity_erase)
