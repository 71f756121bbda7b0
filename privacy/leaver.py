"""The company's leaver policy: a leaver's selfies, face data, trained models and unchosen
photos are always erased; their approved headshot goes too, or is kept (under the headshot
retention period and the legal ceiling) when the company chooses, for example for its
website. Applied by erasure.leaver_erase (on ``member.left``) to every leaver, however they
left (an admin's removal, or deactivation by the company's directory through SCIM)."""

from __future__ import annotations

from django.utils import timezone

from core.errors import ServiceError
from teams.models import Company, Membership
from teams.services.companies import company_admin_required

from .models import LeaverPolicy

Headshots = LeaverPolicy.Headshots


def leaver_keeps_headshots(*, company: Company | int) -> bool:
    row = LeaverPolicy.objects.for_company(company).first()
    return row is not None and row.headshots == Headshots.KEEP


def leaver_policy_update(*, company: Company, actor: Membership, headshots: str) -> bool:
    """Save the choice; True if it changed."""
    company_admin_required(actor=actor, company=company, to="change the leaver policy")
    if headshots not in Headshots.values:
        raise ServiceError("Choose what happens to a leaver's headshot.")
    current = Headshots.KEEP if leaver_keeps_headshots(company=company) else Headshots.DELETE
    if current == headshots:
        return False
    LeaverPolicy.objects.update_or_create(
        company=company, defaults={"headshots": headshots, "updated_by": actor.user,
                                   "updated_at": timezone.now()})
    return True
