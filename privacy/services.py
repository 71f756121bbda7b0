"""Consent: notices, the hash-chained consent log, granting and withdrawing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.anchoring import anchor_advance, anchor_verify
from core.errors import ServiceError
from core.tasks import task_enqueue
from teams.models import Company, Membership, User

from .erasure import RULE_WITHDRAWN
from .models import ConsentCheckpoint, ConsentHead, ConsentNotice, ConsentRecord, RetentionPolicy
from .notice import notice_default_body, notice_full_text
from .registry import processing_stop
from .retention import PolicyInvalid, policy_as_dict, policy_for, policy_validate

GENESIS = "0" * 64
CONSENT_LOG = "consent"
Status = Membership.Status


def notice_current(*, company: Company) -> ConsentNotice:
    """The notice in force; the platform's default text is published on first use."""
    notice = _notice_latest(company)
    if notice is None:
        with transaction.atomic():
            _company_lock(company)
            notice = _notice_latest(company) or _notice_create(
                company=company, body=notice_default_body(company=company), created_by=None,
                previous=None,
            )
    return notice


@transaction.atomic
def notice_publish(*, company: Company, body: str, created_by: User | None) -> ConsentNotice:
    """Publish a new version. Earlier versions stay: consents point at what was signed."""
    body = body.replace("\r\n", "\n").strip()
    if len(body) < 50:
        raise ServiceError("The notice is too short to explain the purpose and what is collected.")
    _company_lock(company)
    latest = _notice_latest(company)
    if latest is not None and latest.body == body:
        raise ServiceError("The text is unchanged: no new version was published.")
    return _notice_create(company=company, body=body, created_by=created_by, previous=latest)


def _notice_latest(company: Company) -> ConsentNotice | None:
    return ConsentNotice.objects.for_company(company).order_by("-version").first()


def _notice_create(*, company: Company, body: str, created_by: User | None,
                   previous: ConsentNotice | None) -> ConsentNotice:
    text = notice_full_text(company=company, body=body)
    return ConsentNotice.objects.create(
        company=company, version=(previous.version + 1) if previous else 1, body=body, text=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(), created_by=created_by,
    )


def _company_lock(company: Company) -> None:
    """Serialise writers of one company's notices and consent chain."""
    Company.objects.select_for_update().filter(pk=company.pk).first()


def record_hash(record: ConsentRecord) -> str:
    """The hash over a record's content and its predecessor's hash."""
    payload = [
        record.prev_hash, record.company_id, record.subject_user_id, record.subject_email,
        record.signed_name, record.event, record.notice_id, record.notice_version,
        record.notice_sha256, record.method, record.recorded_by_user_id,
        record.created_at.isoformat(), record.ip_address, record.user_agent,
    ]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def _append(**fields) -> ConsentRecord:
    company: Company = fields["company"]
    # One writer per company at a time: the chain has a single head.
    _company_lock(company)
    last = ConsentRecord.objects.for_company(company).order_by("-pk").first()
    record = ConsentRecord(prev_hash=last.hash if last else GENESIS,
                           created_at=timezone.now(), **fields)
    record.hash = record_hash(record)
    record.save(force_insert=True)
    anchor_advance(ConsentHead, log_name=CONSENT_LOG, company_id=company.pk,
                   head_hash=record.hash)
    return record


def consent_current(*, company: Company, user: User) -> ConsentRecord | None:
    """The person's latest consent event here, or None if they never consented."""
    return (
        ConsentRecord.objects.for_company(company)
        .filter(subject_user_id=user.pk)
        .order_by("-pk")
        .first()
    )


def consent_is_granted(*, company: Company, user: User) -> bool:
    latest = consent_current(company=company, user=user)
    return latest is not None and latest.event == ConsentRecord.Event.GRANTED


@dataclass(frozen=True)
class RequestInfo:
    ip_address: str | None
    user_agent: str


@transaction.atomic
def consent_grant(
    *,
    company: Company,
    membership: Membership,
    notice: ConsentNotice,
    signed_name: str,
    agreed: bool,
    request_info: RequestInfo,
    recorded_by: Membership | None = None,
) -> ConsentRecord:
    """Record a written release: a typed full name and an explicit tick.

    ``recorded_by`` is an admin entering a paper release signed by the person.
    """
    signed_name = " ".join(signed_name.split())
    if not agreed:
        raise ServiceError("Tick the box to confirm that you agree.")
    if len(signed_name) < 2:
        raise ServiceError("Type your full name to sign.")
    if notice.company_id != company.pk:
        raise ServiceError("That notice belongs to another company.")
    current = notice_current(company=company)
    if notice.pk != current.pk:
        raise ServiceError("The notice was updated while you were reading it. Please read the "
                           "new version.")
    if recorded_by is not None and not recorded_by.is_admin:
        raise ServiceError("Only an admin can record a paper release.")
    if consent_is_granted(company=company, user=membership.user):
        raise ServiceError("You have already given consent.")
    record = _append(
        company=company, subject_user_id=membership.user_id,
        subject_email=membership.user.email, signed_name=signed_name[:200],
        event=ConsentRecord.Event.GRANTED, notice=notice, notice_version=notice.version,
        notice_sha256=notice.sha256,
        method=ConsentRecord.Method.ADMIN_RECORDED if recorded_by else ConsentRecord.Method.WEB_FORM,
        recorded_by_user_id=recorded_by.user_id if recorded_by else None,
        ip_address=request_info.ip_address, user_agent=request_info.user_agent[:512],
    )
    Membership.objects.for_company(company).filter(
        pk=membership.pk, status__in=[Status.JOINED, Status.WITHDRAWN]
    ).update(status=Status.CONSENTED)
    return record


@transaction.atomic
def consent_withdraw(
    *, company: Company, membership: Membership, request_info: RequestInfo
) -> ConsentRecord:
    """Withdraw: a new record, and every kind of processing for the person stops now."""
    latest = consent_current(company=company, user=membership.user)
    if latest is None or latest.event != ConsentRecord.Event.GRANTED:
        raise ServiceError("There is no consent to withdraw.")
    record = _append(
        company=company, subject_user_id=membership.user_id,
        subject_email=membership.user.email, signed_name=latest.signed_name,
        event=ConsentRecord.Event.WITHDRAWN, notice=latest.notice,
        notice_version=latest.notice_version, notice_sha256=latest.notice_sha256,
        method=ConsentRecord.Method.WEB_FORM, recorded_by_user_id=None,
        ip_address=request_info.ip_address, user_agent=request_info.user_agent[:512],
    )
    Membership.objects.for_company(company).filter(pk=membership.pk).update(
        status=Status.WITHDRAWN
    )
    processing_stop(company=company, membership=membership)
    # Erasure runs on the privacy worker right after commit: within minutes, and never for
    # a withdrawal that rolled back.
    task_enqueue("privacy.erase_person", company.pk, membership.pk, RULE_WITHDRAWN)
    return record


@dataclass(frozen=True)
class ChainBreak:
    company_slug: str
    record_id: int | str  # a row id, or "#n" / "(log)" for what the anchor shows
    problem: str


def consent_chain_verify(*, company: Company) -> list[ChainBreak]:
    """Recompute the company's chain and compare it with its anchored head and checkpoints:
    every forged, removed, reordered or truncated row shows up, the newest ones too."""
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS
    hashes: list[str] = []
    for record in ConsentRecord.objects.for_company(company).order_by("pk").iterator():
        if record.prev_hash != expected_prev:
            breaks.append(ChainBreak(company.slug, record.pk,
                                     "does not follow the previous record (a row was removed "
                                     "or inserted)"))
        if record_hash(record) != record.hash:
            breaks.append(ChainBreak(company.slug, record.pk,
                                     "its content does not match its hash (it was altered)"))
        expected_prev = record.hash
        hashes.append(record.hash)
    for problem in anchor_verify(log_name=CONSENT_LOG, company_id=company.pk,
                                 head_model=ConsentHead, checkpoint_model=ConsentCheckpoint,
                                 hashes=hashes):
        where = f"#{problem.position}" if problem.position else "(log)"
        breaks.append(ChainBreak(company.slug, where, problem.problem))
    return breaks


@transaction.atomic
def retention_policy_update(*, company: Company, actor: Membership,
                            values: dict[str, int | None]) -> ConsentNotice | None:
    """Save the company's retention policy and publish it to employees.

    The schedule is part of the consent notice's text, so a change publishes a new notice
    version (same company text, new schedule). Returns it, or None if nothing changed.
    """
    if not actor.is_admin or actor.company_id != company.pk:
        raise ServiceError("Only the company's admins can change the retention policy.")
    try:
        policy = policy_validate(values)
    except PolicyInvalid as error:
        raise ServiceError(str(error)) from error
    if policy == policy_for(company):
        return None
    _company_lock(company)
    RetentionPolicy.objects.update_or_create(
        company=company, defaults={**policy_as_dict(policy), "updated_by": actor.user,
                                   "updated_at": timezone.now()})
    latest = _notice_latest(company)
    body = latest.body if latest else notice_default_body(company=company)
    return _notice_create(company=company, body=body, created_by=actor.user, previous=latest)
