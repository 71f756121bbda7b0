"""Erasure on events: consent withdrawn, a leaver, a company closed, a subject's request.

Everything about the person goes (photos, face data, trained models, generated photos,
the approved headshot, job records, review history, exports, invitations, cached files),
except the consent records, which are kept as legal proof, and the deletion receipts
and request log, which prove the erasure happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from delivery.models import DirectorySync
from generation.models import GenerationJob, Headshot, ReviewDecision, Selfie
from teams.models import Company, Invitation, InviteLink, Membership, Team, User

from .deletion import (
    export_delete,
    headshot_delete,
    job_delete,
    orphan_delete,
    selfie_delete,
)
from .models import DataSubjectRequest
from .storage import export_prefix, selfie_prefix, storage_walk

log = logging.getLogger(__name__)

RULE_WITHDRAWN = "erasure.consent_withdrawn"
RULE_LEAVER = "erasure.member_removed"
RULE_COMPANY_CLOSED = "erasure.company_closed"
RULE_REQUEST = "erasure.subject_request"


@dataclass(frozen=True)
class ErasureResult:
    jobs: int
    selfies: int
    headshots: int
    stray_files: int


def person_erase(*, company: Company, membership: Membership, rule: str) -> ErasureResult:
    """Erase everything stored about one member of one company; the membership row stays
    (the caller decides whether the person leaves). Safe to run again."""
    from generation.services import processing_stop_for_member

    if membership.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    # In-flight work first (cancelled at Replicate too; a GPU worker loses its lease), so
    # nothing new is written while the rest goes.
    processing_stop_for_member(company=company, membership=membership)
    subject = membership.user_id
    headshots = 0
    for headshot in Headshot.objects.for_company(company).filter(membership=membership):
        headshot_delete(headshot, rule=rule, subject_user_id=subject)
        headshots += 1
    jobs = 0
    for job in GenerationJob.objects.for_company(company).filter(membership=membership):
        job_delete(job, rule=rule, subject_user_id=subject)
        jobs += 1
    selfies = 0
    for selfie in Selfie.objects.for_company(company).filter(membership=membership):
        selfie_delete(selfie, rule=rule, subject_user_id=subject)
        selfies += 1
    for request in DataSubjectRequest.objects.for_company(company).filter(
            membership_ref=membership.pk).exclude(export_key=""):
        export_delete(request, rule=rule)
    # Whatever else sits in the person's folders: thumbnails of half-finished uploads,
    # files a worker wrote as the rows went.
    stray = 0
    for prefix in (selfie_prefix(company_id=company.pk, membership_id=membership.pk),
                   export_prefix(company_id=company.pk, membership_id=membership.pk)):
        for key in list(storage_walk(prefix)):
            orphan_delete(company_id=company.pk, key=key, rule=rule, subject_user_id=subject)
            stray += 1
    ReviewDecision.objects.for_company(company).filter(membership=membership).delete()
    DirectorySync.objects.for_company(company).filter(membership=membership).delete()
    log.info("erased membership %s of company %s (%s): %s jobs, %s selfies, %s headshots",
             membership.pk, company.pk, rule, jobs, selfies, headshots)
    return ErasureResult(jobs=jobs, selfies=selfies, headshots=headshots, stray_files=stray)


def _user_forget(user_id: int) -> None:
    """A person who belongs to no company any more: their account goes too.

    Anonymised rather than deleted: ledger lines they made as an admin point at the row,
    and the ledger is append-only.
    """
    if Membership.objects.unscoped().filter(user_id=user_id).exists():  # member elsewhere
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


def member_erase_and_remove(*, company: Company, membership: Membership, rule: str) -> None:
    """A leaver: erase, then remove the membership and anything that named them."""
    person_erase(company=company, membership=membership, rule=rule)
    with transaction.atomic():
        Invitation.objects.for_company(company).filter(membership=membership).delete()
        Membership.objects.for_company(company).filter(pk=membership.pk).delete()
        _user_forget(membership.user_id)


def company_close(*, company: Company, actor: Membership) -> None:
    """The owner closes the company: no one can sign in to it any more, and every person's
    data is erased by the privacy worker (privacy.erase_company)."""
    if actor.company_id != company.pk or actor.role != Membership.Role.OWNER:
        raise NotAllowed("Only the owner can close the company.")
    if company.closed_at is not None:
        raise ServiceError("The company is already closed.")
    from .tasks import erase_company

    with transaction.atomic():
        Company.objects.filter(pk=company.pk).update(closed_at=timezone.now())
        transaction.on_commit(lambda: erase_company.delay(company.pk))


def company_erase(*, company: Company) -> int:
    """Everything of a closed company but the consent proof, receipts and the ledger."""
    if company.closed_at is None:
        raise ServiceError("Only a closed company's data is erased wholesale.")
    count = 0
    for membership in Membership.objects.for_company(company).order_by("pk"):
        member_erase_and_remove(company=company, membership=membership,
                                rule=RULE_COMPANY_CLOSED)
        count += 1
    # Jobs without a membership left (look previews of people already gone).
    for job in GenerationJob.objects.for_company(company):
        job_delete(job, rule=RULE_COMPANY_CLOSED)
    for area_prefix in (f"selfies/c{company.pk}", f"candidates/c{company.pk}",
                        f"lora/c{company.pk}", f"exports/c{company.pk}"):
        for key in list(storage_walk(area_prefix)):
            orphan_delete(company_id=company.pk, key=key, rule=RULE_COMPANY_CLOSED)
    with transaction.atomic():
        Invitation.objects.for_company(company).delete()
        InviteLink.objects.for_company(company).delete()
        Team.objects.for_company(company).delete()
    return count
