"""Erasure on events: consent withdrawn, a leaver, a company closed, a subject's request.

Everything about the person goes (every kind of personal data registered with
privacy/registry.py: photos, face data, trained models, generated photos, the approved
headshot, job records, review history, exports, directory copies, and whatever else sits in
the person's folders), except the consent records, which are kept as legal proof, and the
deletion receipts and request log, which prove the erasure happened. A company's leaver
policy may keep a leaver's approved headshot (privacy/leaver.py): then that photo and the
rows it needs stay, without their face data.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.emails import email_send
from core.errors import NotAllowed, ServiceError
from core.events import Event
from core.storage import MEMBERSHIP, file_areas
from core.tasks import task_enqueue
from teams.models import Company, Membership
from teams.services.companies import company_people_records_delete, membership_delete

from .deletion import orphans_delete, receipt_write
from .leaver import leaver_keeps_headshots
from .registry import ExternalCopyKept, company_records, personal_data, processing_stop
from .storage import storage_walk

log = logging.getLogger(__name__)

RULE_WITHDRAWN = "erasure.consent_withdrawn"
RULE_LEAVER = "erasure.member_removed"
RULE_COMPANY_CLOSED = "erasure.company_closed"
RULE_REQUEST = "erasure.subject_request"


@dataclass(frozen=True)
class ErasureResult:
    erased: Counter  # per kind of personal data
    stray_files: int
    kept: Counter  # per kind: kept with an approved headshot (a leaver policy)
    # Copies outside the platform that could not be removed: "where: why" for the person.
    not_removed: tuple[str, ...] = ()


def person_erase(*, company: Company, membership: Membership, rule: str,
                 keep_headshot: bool = False) -> ErasureResult:
    """Erase everything stored about one member of one company; the membership row stays
    (the caller decides whether the person leaves). Safe to run again.

    ``keep_headshot`` (a leaver policy) keeps the approved headshot's photo and the rows it
    needs (what each kind registers as ``kept_with_headshot``), stripped of their face data;
    all else goes."""
    if membership.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    # In-flight work first (cancelled at Replicate too; a GPU worker loses its lease), so
    # nothing new is written while the rest goes.
    processing_stop(company=company, membership=membership)
    subject = membership.user_id
    erased: Counter = Counter()
    kept: Counter = Counter()
    not_removed: list[str] = []
    for kind in personal_data():
        if rule == RULE_WITHDRAWN and kind.kept_on_withdrawal:
            continue
        keep = (set(kind.kept_with_headshot(company, membership))
                if keep_headshot and kind.kept_with_headshot else set())
        to_erase = []
        for obj in list(kind.of_person(company, membership)):
            if obj in keep:
                if kind.strip is not None:
                    kind.strip(obj, rule)
                kept[kind.kind] += 1
            else:
                to_erase.append(obj)
        if kind.erase_many is not None:  # files in batches (one S3 request per 1,000)
            if to_erase:
                kind.erase_many(to_erase, rule, subject)
            erased[kind.kind] += len(to_erase)
            continue
        for obj in to_erase:
            try:
                kind.erase(obj, rule, subject)
            except ExternalCopyKept as copy:
                not_removed.append(str(copy))
                continue
            erased[kind.kind] += 1
    # Whatever else sits in the person's folders: thumbnails of half-finished uploads,
    # files a worker wrote as the rows went.
    stray = 0
    for area in file_areas():
        if area.owner != MEMBERSHIP:
            continue
        keys = list(storage_walk(area.folder(company_id=company.pk, owner_id=membership.pk)))
        orphans_delete(company_id=company.pk, keys=keys, rule=rule, subject_user_id=subject)
        stray += len(keys)
    log.info("erased membership %s of company %s (%s): %s%s%s", membership.pk, company.pk,
             rule, dict(erased), f", kept {dict(kept)}" if kept else "",
             f", {len(not_removed)} outside copies not removed" if not_removed else "")
    return ErasureResult(erased=erased, stray_files=stray, kept=kept,
                         not_removed=tuple(not_removed))


def _member_receipt(*, company: Company, membership: Membership, rule: str) -> None:
    """The person's own receipt: they were removed from the company (by ``rule``)."""
    receipt_write(company_id=company.pk, kind="member", object_ref=f"membership:{membership.pk}",
                  subject_user_id=membership.user_id, rule=rule)


def leaver_erase(event: Event) -> None:
    """``member.left``, inside the removal's transaction: everything about the leaver goes
    before teams deletes the membership that it all points at. The company's leaver policy
    may keep their approved headshot; teams then keeps the membership as "left" to hold it
    (no sign-in, no role)."""
    company = Company.objects.get(pk=event.company_id)
    membership = Membership.objects.for_company(company).get(pk=event.data["person"])
    result = person_erase(company=company, membership=membership, rule=RULE_LEAVER,
                          keep_headshot=leaver_keeps_headshots(company=company))
    _member_receipt(company=company, membership=membership,
                    rule=f"{RULE_LEAVER}+headshot_kept" if result.kept else RULE_LEAVER)
    if result.not_removed:
        # A leaver has no page left to read: they are told by e-mail (sent after commit, to
        # the address they had before their account is anonymised) where their photo remains.
        email_send(to=membership.user.email, template="erasure_copies_kept",
                   context={"company_name": company.name, "not_removed": result.not_removed})


def company_close(*, company: Company, actor: Membership) -> None:
    """The owner closes the company: no one can sign in to it any more, and every person's
    data is erased by the privacy worker (privacy.erase_company)."""
    if actor.company_id != company.pk or actor.role != Membership.Role.OWNER:
        raise NotAllowed("Only the owner can close the company.")
    if company.closed_at is not None:
        raise ServiceError("The company is already closed.")
    with transaction.atomic():
        Company.objects.filter(pk=company.pk).update(closed_at=timezone.now())
        task_enqueue("privacy.erase_company", company.pk)


def company_erase(*, company: Company) -> int:
    """Everything of a closed company but the consent proof, receipts and the ledger."""
    if company.closed_at is None:
        raise ServiceError("Only a closed company's data is erased wholesale.")
    count = 0
    for membership in Membership.objects.for_company(company).order_by("pk"):
        person_erase(company=company, membership=membership, rule=RULE_COMPANY_CLOSED)
        with transaction.atomic():
            _member_receipt(company=company, membership=membership, rule=RULE_COMPANY_CLOSED)
            membership_delete(company=company, membership=membership)
        count += 1
    for area in file_areas():
        orphans_delete(company_id=company.pk, rule=RULE_COMPANY_CLOSED,
                       keys=list(storage_walk(area.company_folder(company_id=company.pk))))
    company_people_records_delete(company=company)
    for erase in company_records():
        erase(company, RULE_COMPANY_CLOSED)
    return count
