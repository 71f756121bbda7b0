"""Data-subject requests: a copy of everything we hold about a person (a ZIP with a
machine-readable data.json), and erasure on request. Each is logged with its legal due
date (one calendar month, GDPR Art. 12(3)) and its completion."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from core.storage import export_key
from core.tasks import task_enqueue
from teams.models import Company, Membership

from .erasure import RULE_REQUEST, person_erase
from .models import ConsentRecord, DataSubjectRequest
from .registry import personal_data
from .retention import policy_for, retention_schedule_lines
from .services import RequestInfo, consent_is_granted, consent_withdraw

log = logging.getLogger(__name__)
Kind = DataSubjectRequest.Kind
Status = DataSubjectRequest.Status


def dsr_due(requested_at: datetime) -> datetime:
    return requested_at + relativedelta(months=1)


def _check_access(company: Company, membership: Membership, requested_by: Membership) -> None:
    if membership.company_id != company.pk or requested_by.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    if requested_by.pk != membership.pk and not requested_by.is_admin:
        raise NotAllowed("Only the person or an admin can ask for this.")


def dsr_create(*, company: Company, membership: Membership, requested_by: Membership,
               kind: str) -> DataSubjectRequest:
    """Log the request and queue the work (on commit); the privacy worker completes it."""
    _check_access(company, membership, requested_by)
    if kind not in Kind.values:
        raise ServiceError("Unknown kind of request.")
    open_same = DataSubjectRequest.objects.for_company(company).filter(
        membership_ref=membership.pk, kind=kind, status=Status.PENDING)
    if open_same.exists():
        raise ServiceError("That request is already in progress.")
    now = timezone.now()
    with transaction.atomic():
        request = DataSubjectRequest.objects.create(
            company=company, kind=kind, subject_user_id=membership.user_id,
            subject_email=membership.user.email, membership_ref=membership.pk,
            requested_by_user_id=requested_by.user_id, requested_at=now, due_at=dsr_due(now))
        task_enqueue("privacy.dsr_process", request.pk)
    return request


def dsr_process(*, company: Company, request_id: int) -> DataSubjectRequest | None:
    """Complete one request. Idempotent: a request is claimed once (pending -> completed by
    a single conditional update after the work), and erasure is safe to repeat."""
    request = DataSubjectRequest.objects.for_company(company).filter(
        pk=request_id, status=Status.PENDING).first()
    if request is None:
        return None
    membership = Membership.objects.for_company(company).select_related("user", "team").filter(
        pk=request.membership_ref).first()
    if membership is None:
        DataSubjectRequest.objects.for_company(company).filter(
            pk=request.pk, status=Status.PENDING).update(
            status=Status.FAILED, completed_at=timezone.now(),
            failure_reason="The person is no longer a member; their data was already erased.")
        return request
    if request.kind == Kind.EXPORT:
        key = default_storage.save(
            export_key(company_id=company.pk, membership_id=membership.pk),
            ContentFile(export_zip(company=company, membership=membership)))
        now = timezone.now()
        updated = DataSubjectRequest.objects.for_company(company).filter(
            pk=request.pk, status=Status.PENDING).update(
            status=Status.COMPLETED, completed_at=now, export_key=key,
            export_expires_at=now + policy_for(company).hours("exports_hours"))
        if not updated:  # another worker finished it first
            default_storage.delete(key)
    else:
        _withdraw_if_granted(company, membership)
        result = person_erase(company=company, membership=membership, rule=RULE_REQUEST)
        DataSubjectRequest.objects.for_company(company).filter(
            pk=request.pk, status=Status.PENDING).update(
            status=Status.COMPLETED, completed_at=timezone.now(),
            outcome=erasure_outcome(result.not_removed))
    request.refresh_from_db()
    return request


def erasure_outcome(not_removed: tuple[str, ...]) -> str:
    """What the person is told when copies outside the platform remain."""
    if not not_removed:
        return ""
    return ("Your photo could not be removed from every directory it was sent to: "
            + " ".join(f"{line.rstrip('.')}." for line in not_removed))


def _withdraw_if_granted(company: Company, membership: Membership) -> None:
    """Erasure ends consent: the log says so before the data goes."""
    if consent_is_granted(company=company, user=membership.user):
        consent_withdraw(company=company, membership=membership,
                         request_info=RequestInfo(ip_address=None,
                                                  user_agent="erasure request"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ExportArchive:
    """A person's copy of their data as it is written: ``data`` becomes data.json, and
    ``add_file`` copies a stored file in. Each registered kind of personal data fills its
    own part (privacy/registry.py)."""

    def __init__(self, archive: zipfile.ZipFile, data: dict) -> None:
        self.archive = archive
        self.data = data

    def add_file(self, name: str, key: str) -> None:
        try:
            with default_storage.open(key, "rb") as handle:
                self.archive.writestr(name, handle.read())
        except FileNotFoundError:
            log.warning("export: %s is missing from storage", name)


def export_zip(*, company: Company, membership: Membership) -> bytes:
    """Every photo and record of the person, with data.json describing all of it."""
    buffer = io.BytesIO()
    user = membership.user
    data: dict = {
        "generated_at": timezone.now().isoformat(),
        "company": company.name,
        "person": {"email": user.email, "full_name": user.full_name, "role": membership.role,
                   "status": membership.status, "job_title": membership.job_title,
                   "team": membership.team.name if membership.team else None,
                   "invited_at": _iso(membership.invited_at),
                   "joined_at": _iso(membership.joined_at)},
        "consent_history": [
            {"event": r.event, "at": r.created_at.isoformat(), "signed_name": r.signed_name,
             "notice_version": r.notice_version, "notice_sha256": r.notice_sha256,
             "method": r.method, "ip_address": r.ip_address, "user_agent": r.user_agent}
            for r in ConsentRecord.objects.for_company(company).filter(
                subject_user_id=user.pk).order_by("pk")],
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        copy = ExportArchive(archive, data)
        for kind in personal_data():
            if kind.export is not None:
                kind.export(company, membership, copy)
        data["retention_schedule"] = [
            {"data": what, "rule": rule}
            for what, rule in retention_schedule_lines(policy_for(company))]
        archive.writestr("data.json", json.dumps(data, indent=2, ensure_ascii=False))
    return buffer.getvalue()


def dsr_list(*, company: Company):
    return DataSubjectRequest.objects.for_company(company).order_by("-requested_at")


def dsr_for_person(*, company: Company, membership: Membership):
    return DataSubjectRequest.objects.for_company(company).filter(
        membership_ref=membership.pk).order_by("-requested_at")
