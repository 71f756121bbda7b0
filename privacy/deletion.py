"""Deleting the privacy way: files from storage first, then the row, then a receipt. The
helpers every registered kind of personal data uses (privacy/registry.py), and the privacy
app's own deletions (a person's copy of their data, a file no row knows).

Storage goes first so that a crash can only leave a row whose file is already gone (the
next sweep finishes it), never a file that no row points at. Each step is idempotent: a
missing key counts as deleted, a missing row as removed, and a receipt is written once
per object (a unique constraint), so a redelivered task repeats safely.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from teams.models import Membership

from .models import DataSubjectRequest, DeletionReceipt
from .storage import key_sha256, storage_delete, storage_delete_many


def receipt_make(*, company_id: int, kind: str, object_ref: str, subject_user_id: int | None,
                 rule: str, keys: Iterable[str] = ()) -> DeletionReceipt:
    """An unsaved receipt (for ``receipts_write``): the key's hash, never the key."""
    return DeletionReceipt(
        company_id=company_id, kind=kind, object_ref=object_ref[:120],
        subject_user_id=subject_user_id, rule=rule[:60],
        key_sha256=[key_sha256(key) for key in keys if key], deleted_at=timezone.now(),
    )


def receipts_write(receipts: list[DeletionReceipt]) -> None:
    DeletionReceipt.objects.bulk_create(receipts, ignore_conflicts=True)


def receipt_write(*, company_id: int, kind: str, object_ref: str, subject_user_id: int | None,
                  rule: str, keys: Iterable[str] = ()) -> None:
    receipts_write([receipt_make(company_id=company_id, kind=kind, object_ref=object_ref,
                                 subject_user_id=subject_user_id, rule=rule, keys=keys)])


def subject_of(company_id: int, membership_id: int) -> int | None:
    """The user a membership belongs to, for the receipt (None once it is gone)."""
    return (Membership.objects.for_company(company_id).filter(pk=membership_id)
            .values_list("user_id", flat=True).first())


def row_delete(obj, rule: str) -> None:
    """An audit row: no files and no face data, so it simply goes (no receipt for a receipt)."""
    type(obj).objects.for_company(obj.company_id).filter(pk=obj.pk).delete()


def export_delete(request: DataSubjectRequest, *, rule: str) -> None:
    if request.export_key:
        storage_delete(request.export_key)
    with transaction.atomic():
        DataSubjectRequest.objects.for_company(request.company_id).filter(pk=request.pk).update(
            export_key="", export_expires_at=None)
        if request.export_key:
            receipt_write(company_id=request.company_id, kind="export",
                          object_ref=f"dsr:{request.pk}", subject_user_id=request.subject_user_id,
                          rule=rule, keys=[request.export_key])


def orphan_delete(*, company_id: int, key: str, rule: str,
                  subject_user_id: int | None = None) -> None:
    """A file no row knows; the subject when its folder says whose it is."""
    orphans_delete(company_id=company_id, keys=[key], rule=rule, subject_user_id=subject_user_id)


def orphans_delete(*, company_id: int, keys: list[str], rule: str,
                   subject_user_id: int | None = None) -> None:
    """Files no row knows, of one company: removed in batches (one S3 request per 1,000),
    then a receipt each."""
    keys = [key for key in keys if key]
    if not keys:
        return
    storage_delete_many(keys)
    receipts_write([receipt_make(company_id=company_id, kind="orphan_file",
                                 object_ref=f"file:{key_sha256(key)}",
                                 subject_user_id=subject_user_id, rule=rule, keys=[key])
                    for key in keys])
