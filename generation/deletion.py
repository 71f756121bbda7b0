"""Deleting generation's personal data the privacy way (privacy/deletion.py): files first,
then the row, then a receipt. Used by the retention sweeper and by erasure through the
registrations in generation/personal_data.py, and by the GPU worker once a batch is out."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from core.storage import CANDIDATES, lora_folder
from privacy.deletion import receipt_make, receipt_write, receipts_write, subject_of
from privacy.storage import storage_delete_many, storage_delete_prefix
from teams.models import Membership

from .colleagues import index_drop
from .models import Candidate, GenerationJob, Headshot, Selfie


def selfie_delete(selfie: Selfie, *, rule: str, subject_user_id: int | None = None) -> None:
    selfies_delete([selfie], rule=rule, subject_user_id=subject_user_id)


def selfies_delete(selfies: Sequence[Selfie], *, rule: str,
                   subject_user_id: int | None = None) -> None:
    """Selfies of one company, each as selfie_delete would, in a few queries for the lot (the
    retention sweeper deletes them a chunk at a time: one query per selfie would not scale)."""
    _photos_delete(selfies, kind="selfie", rule=rule, subject_user_id=subject_user_id)


def _photos_delete(photos: Sequence[Selfie] | Sequence[Candidate], *, kind: str, rule: str,
                   subject_user_id: int | None) -> None:
    """Selfies or candidates (``kind``) of one company: their files in batches (one S3
    request per 1,000 keys, not one per file), then rows and receipts in a few queries; a
    stored face embedding gets a receipt of its own."""
    if not photos:
        return
    model = type(photos[0])
    company_id = photos[0].company_id
    if any(photo.company_id != company_id for photo in photos):
        raise ValueError(f"{kind}s_delete takes the {kind}s of one company at a time")
    storage_delete_many([key for photo in photos for key in (photo.image_key, photo.thumb_key)])
    subjects: dict[int, int] = {}
    if not subject_user_id:
        subjects = dict(Membership.objects.for_company(company_id).filter(
            pk__in={photo.membership_id for photo in photos}).values_list("pk", "user_id"))
    receipts = []
    for photo in photos:
        subject = subject_user_id or subjects.get(photo.membership_id)
        receipts.append(receipt_make(company_id=company_id, kind=kind,
                                     object_ref=f"{kind}:{photo.pk}", subject_user_id=subject,
                                     rule=rule, keys=[photo.image_key, photo.thumb_key]))
        if photo.face_embedding is not None:
            receipts.append(receipt_make(company_id=company_id, kind="face_embedding",
                                         object_ref=f"{kind}:{photo.pk}",
                                         subject_user_id=subject, rule=rule))
    with transaction.atomic():
        model.objects.for_company(company_id).filter(
            pk__in=[photo.pk for photo in photos]).delete()
        if model is Selfie:
            index_drop(company_id)  # the colleague centroids made from them go with them
        receipts_write(receipts)


def embedding_clear(obj: Selfie | Candidate, *, rule: str) -> None:
    """Drop a stored face embedding; the photo it came from follows its own rule."""
    model = type(obj)
    label = "selfie" if model is Selfie else "candidate"
    with transaction.atomic():
        model.objects.for_company(obj.company_id).filter(pk=obj.pk).update(face_embedding=None)
        if model is Selfie:
            index_drop(obj.company_id)
        receipt_write(company_id=obj.company_id, kind="face_embedding",
                      object_ref=f"{label}:{obj.pk}",
                      subject_user_id=subject_of(obj.company_id, obj.membership_id), rule=rule)


def candidate_delete(candidate: Candidate, *, rule: str,
                     subject_user_id: int | None = None) -> None:
    """A generated photo. An approved headshot's photo goes only with its headshot."""
    candidates_delete([candidate], rule=rule, subject_user_id=subject_user_id)


def candidates_delete(candidates: Sequence[Candidate], *, rule: str,
                      subject_user_id: int | None = None) -> None:
    """Generated photos of one company, each as candidate_delete would: their files in
    batches (one S3 request per 1,000 keys, not one per file), then rows and receipts in a
    few queries."""
    _photos_delete(candidates, kind="candidate", rule=rule, subject_user_id=subject_user_id)


def headshot_delete(headshot: Headshot, *, rule: str, subject_user_id: int | None = None) -> None:
    candidate = Candidate.objects.for_company(headshot.company_id).filter(
        pk=headshot.candidate_id).first()
    subject = subject_user_id or subject_of(headshot.company_id, headshot.membership_id)
    keys = [candidate.image_key, candidate.thumb_key] if candidate else []
    storage_delete_many(keys)
    with transaction.atomic():
        Headshot.objects.for_company(headshot.company_id).filter(pk=headshot.pk).delete()
        receipt_write(company_id=headshot.company_id, kind="headshot",
                      object_ref=f"headshot:{headshot.pk}", subject_user_id=subject, rule=rule,
                      keys=keys)
        Membership.objects.for_company(headshot.company_id).filter(
            pk=headshot.membership_id, status=Membership.Status.APPROVED,
        ).update(status=Membership.Status.REVIEW)
    if candidate is not None:
        candidate_delete(candidate, rule=rule, subject_user_id=subject)


def lora_delete(*, company_id: int, job_id: int, rule: str,
                subject_user_id: int | None = None) -> bool:
    """A person's trained model and its checkpoints. True if anything was there."""
    keys = storage_delete_prefix(lora_folder(company_id=company_id, job_id=job_id))
    if keys:
        receipt_write(company_id=company_id, kind="lora_weights", object_ref=f"job:{job_id}",
                      subject_user_id=subject_user_id, rule=rule, keys=keys)
    return bool(keys)


def job_delete(job: GenerationJob, *, rule: str, subject_user_id: int | None = None) -> None:
    """A job record with whatever photos and weights it still has (not an approved headshot:
    callers delete the headshot first)."""
    subject = subject_user_id or subject_of(job.company_id, job.membership_id)
    candidates_delete(list(Candidate.objects.for_company(job.company_id).filter(job=job)),
                      rule=rule, subject_user_id=subject)
    lora_delete(company_id=job.company_id, job_id=job.pk, rule=rule, subject_user_id=subject)
    # Files a late worker wrote after the rows were gone.
    stray = storage_delete_prefix(CANDIDATES.folder(company_id=job.company_id, owner_id=job.pk))
    with transaction.atomic():
        GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).delete()
        receipt_write(company_id=job.company_id, kind="job", object_ref=f"job:{job.pk}",
                      subject_user_id=subject, rule=rule, keys=stray)
