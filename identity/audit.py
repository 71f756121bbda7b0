"""The admin audit log: who did what to whom, when and from where, per company.

Actions of this app are recorded by its services (``audit_record``). Admin actions of the
other apps are recorded by ``IdentityMiddleware`` from the admin pages they happen on
(``ADMIN_URL_ACTIONS`` below), once the page answered with success: those apps sit below
or beside this one and cannot call it (when they emit events, they will be recorded from
the events instead).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from teams.models import Company, User

from .models import AuditEvent

# What each action is called on the audit page.
ACTIONS: dict[str, str] = {
    # This app
    "sso.updated": "Changed the SSO connection",
    "sso.enforced": "Turned on enforced SSO",
    "sso.unenforced": "Turned off enforced SSO",
    "sso.signin_denied": "SSO sign-in refused",
    "domain.added": "Added an e-mail domain",
    "domain.verified": "Verified an e-mail domain",
    "domain.removed": "Removed an e-mail domain",
    "scim.token_created": "Created a SCIM token",
    "scim.token_revoked": "Revoked a SCIM token",
    "scim.settings_updated": "Changed provisioning settings",
    "scim.user_provisioned": "Provisioned a person (SCIM)",
    "scim.user_updated": "Updated a person (SCIM)",
    "scim.user_deactivated": "Deactivated a person: leaver policy ran (SCIM)",
    "scim.user_reactivated": "Reactivated a person (SCIM)",
    "scim.user_deleted": "Deleted a person: leaver policy ran (SCIM)",
    "scim.group_created": "Created a group (SCIM)",
    "scim.group_updated": "Changed a group (SCIM)",
    "scim.group_deleted": "Deleted a group (SCIM)",
    "2fa.required": "Required two-factor authentication for admins",
    "2fa.not_required": "Stopped requiring two-factor authentication for admins",
    # Other apps' admin pages (recorded by the middleware)
    "member.invited": "Invited people",
    "member.imported": "Imported people from a CSV file",
    "member.added": "Added a person",
    "member.changed": "Changed a person (team, title or role)",
    "member.removed": "Removed a person (leaver)",
    "invitation.sent": "Sent saved invitations",
    "invitation.reminded": "Reminded an invitee",
    "invitation.revoked": "Revoked an invitation",
    "invite_link.created": "Created an invite link",
    "invite_link.revoked": "Revoked an invite link",
    "team.created": "Created a team",
    "team.changed": "Renamed or deleted a team",
    "company.settings_changed": "Saved company settings",
    "company.ownership_transferred": "Transferred ownership",
    "company.closed": "Closed the company",
    "api_key.created": "Created an API key",
    "api_key.revoked": "Revoked an API key",
    "webhook.changed": "Added or changed a webhook",
    "webhook.deleted": "Deleted a webhook",
    "webhook.resent": "Resent a webhook delivery",
    "look.changed": "Created or changed a look",
    "look.decided": "Approved or changed a look version",
    "generation.started": "Started headshots for a team",
    "headshot.decided": "Approved or rejected a headshot",
    "selfies.changed": "Changed a person's selfies",
    "consent.notice_changed": "Published a consent notice",
    "consent.paper_recorded": "Recorded a paper consent",
    "privacy.policy_changed": "Saved the retention or leaver policy",
    "privacy.request": "Asked for a person's data export or erasure",
    "export.people_csv": "Exported the people list",
    "export.headshots": "Exported headshots",
    "directory.changed": "Changed a directory connection",
    "directory.synced": "Synced headshots to a directory",
    "billing.purchase": "Started a purchase",
    "billing.portal": "Opened the billing portal",
}

# URL name -> (action, form fields worth keeping). Fields are only ever non-secret ones.
ADMIN_URL_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "teams:invite": ("member.invited", ("emails", "team", "send_later")),
    "teams:csv_import": ("member.imported", ("action",)),
    "teams:member_add": ("member.added", ("email", "full_name", "team")),
    "teams:member_detail": ("member.changed", ("role", "team", "job_title")),
    "teams:member_remove": ("member.removed", ()),
    "teams:invitations_send": ("invitation.sent", ()),
    "teams:invitation_remind": ("invitation.reminded", ()),
    "teams:invitation_revoke": ("invitation.revoked", ()),
    "teams:invite_links": ("invite_link.created", ("label", "allowed_domain", "max_uses")),
    "teams:invite_link_revoke": ("invite_link.revoked", ()),
    "teams:teams": ("team.created", ("name",)),
    "teams:team_edit": ("team.changed", ("name", "action")),
    "teams:company_settings": ("company.settings_changed",
                               ("name", "allowed_domains", "reminder_after_days", "redo_limit",
                                "likeness_threshold")),
    "teams:ownership_transfer": ("company.ownership_transferred", ("new_owner",)),
    "teams:api_keys": ("api_key.created", ("name", "scope", "expires_on")),
    "teams:api_key_revoke": ("api_key.revoked", ()),
    "teams:members_csv": ("export.people_csv", ()),
    "integrations:webhooks": ("webhook.changed", ("url", "events")),
    "integrations:webhook_detail": ("webhook.changed", ("url", "events", "active")),
    "integrations:webhook_delete": ("webhook.deleted", ()),
    "integrations:delivery_resend": ("webhook.resent", ()),
    "generation:looks": ("look.changed", ("preset", "team", "output_size")),
    "generation:look_version": ("look.decided", ("action",)),
    "generation:generate_for_team": ("generation.started", ("team",)),
    "generation:review_decide": ("headshot.decided", ("action",)),
    "generation:member_selfies": ("selfies.changed", ("action",)),
    "generation:exports": ("export.headshots", ("format", "size", "team")),
    "generation:people_csv": ("export.people_csv", ()),
    "generation:directory": ("directory.changed", ("provider", "enabled")),
    "generation:directory_sync_now": ("directory.synced", ()),
    "privacy:notice_edit": ("consent.notice_changed", ()),
    "privacy:paper_consent": ("consent.paper_recorded", ("signed_name",)),
    "privacy:privacy_admin": ("privacy.policy_changed", ()),
    "privacy:member_data_request": ("privacy.request", ()),
    "privacy:company_close": ("company.closed", ()),
    "billing:buy": ("billing.purchase", ("pack", "credits")),
    "billing:portal": ("billing.portal", ()),
}
# Reads that are still worth recording (files with people's data leave the building).
AUDITED_GETS = frozenset({"teams:members_csv", "generation:people_csv", "generation:exports"})


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(*, company: Company | int, action: str, actor: User | None = None,
                 actor_label: str = "", target: str = "", details: dict[str, Any] | None = None,
                 request: HttpRequest | None = None) -> AuditEvent:
    if actor is not None and not actor_label:
        actor_label = actor.email
    company_id = company if isinstance(company, int) else company.pk
    return AuditEvent.objects.create(
        company_id=company_id, action=action[:60], actor=actor,
        actor_label=(actor_label or "system")[:254], target=target[:254],
        details=details or {}, ip_address=client_ip(request),
    )


def audit_events(*, company: Company, action: str = "") -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.for_company(company).select_related("actor")
    if action:
        events = events.filter(action__startswith=action)
    return events


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)
