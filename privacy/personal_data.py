"""The privacy app's own kinds of data, registered like everyone else's (privacy/registry.py):
copies of a person's data they asked for, and the records kept as proof (deletion receipts,
the request log), which have a retention period of their own and outlive an erasure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.storage import EXPORTS
from teams.models import Company, Membership

from .deletion import export_delete, row_delete
from .models import DataSubjectRequest, DeletionReceipt
from .registry import PersonalData, RetentionRule, personal_data_register


def _exports_of(company: Company, membership: Membership) -> Iterator[DataSubjectRequest]:
    return iter(DataSubjectRequest.objects.for_company(company).filter(
        membership_ref=membership.pk).exclude(export_key=""))


def _exports_due(company: Company, cutoff: datetime) -> QuerySet:
    # The expiry told to the person when the copy was made counts too: a policy made longer
    # since then does not keep an old copy past it.
    return DataSubjectRequest.objects.for_company(company).exclude(export_key="").filter(
        Q(export_expires_at__lte=timezone.now()) | Q(completed_at__lte=cutoff))


def _export_keys(company_id: int) -> set[str]:
    return set(DataSubjectRequest.objects.filter(company_id=company_id).exclude(
        export_key="").values_list("export_key", flat=True))


def _receipts_due(company: Company, cutoff: datetime) -> QuerySet:
    return DeletionReceipt.objects.for_company(company).filter(deleted_at__lte=cutoff)


def _requests_due(company: Company, cutoff: datetime) -> QuerySet:
    return DataSubjectRequest.objects.for_company(company).filter(
        completed_at__lte=cutoff, export_key="")


def _kept_as_proof(company: Company, membership: Membership) -> tuple:
    return ()  # nothing to erase: the proof that the erasure happened stays


def _never(obj, rule: str, subject_user_id: int | None) -> None:
    raise AssertionError("records kept as proof are not erased with the person")


def register() -> None:
    personal_data_register(PersonalData(
        kind="export", of_person=_exports_of,
        erase=lambda request, rule, subject: export_delete(request, rule=rule),
        files=EXPORTS, known_keys=_export_keys,
        rules=(RetentionRule("exports", "exports_hours", _exports_due,
                             lambda request, rule: export_delete(request, rule=rule)),)))
    personal_data_register(PersonalData(
        kind="deletion_receipt", of_person=_kept_as_proof, erase=_never,
        rules=(RetentionRule("audit.receipts", "audit_log_hours", _receipts_due, row_delete),)))
    personal_data_register(PersonalData(
        kind="data_subject_request", of_person=_kept_as_proof, erase=_never,
        rules=(RetentionRule("audit.requests", "audit_log_hours", _requests_due, row_delete),)))
