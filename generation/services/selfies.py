"""Writes for selfies (and, later, generation jobs)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image

from core.errors import NotAllowed, ServiceError
from core.storage import selfie_keys
from privacy.deletion import receipt_write
from privacy.services import consent_is_granted
from teams.models import Company, Membership

from ..intake.decode import ImageRejected, IntakeLimits, image_normalise
from ..intake.qa import selfie_qa
from ..models import Selfie

Status = Membership.Status
THUMB_SIZE = 320


def intake_limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=settings.SELFIE_MAX_BYTES, max_pixels=settings.SELFIE_MAX_PIXELS,
                        long_side=settings.SELFIE_LONG_SIDE)


def selfie_upload(
    *, company: Company, actor: Membership, membership: Membership, data: bytes
) -> Selfie:
    """Take one uploaded file for ``membership``: decode, normalise, QA, store.

    ``actor`` is the person uploading: the employee, or an admin on their behalf.
    Raises ServiceError (with a message for the person) and stores nothing when
    the file is refused.
    """
    if membership.company_id != company.pk or actor.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    if actor.pk != membership.pk and not actor.is_admin:
        raise NotAllowed("Only an admin can upload for someone else.")
    if not consent_is_granted(company=company, user=membership.user):
        raise ServiceError("Photos can only be uploaded after consent is given.")
    existing = Selfie.objects.for_company(company).filter(membership=membership)
    if existing.count() >= settings.SELFIES_MAX_PER_PERSON:
        raise ServiceError(f"You already have {settings.SELFIES_MAX_PER_PERSON} photos. "
                           "Delete one to add another.")
    try:
        clean = image_normalise(data, limits=intake_limits())
    except ImageRejected as exc:
        raise ServiceError(str(exc)) from exc
    if existing.filter(content_sha256=clean.sha256).exists():
        raise ServiceError("You already uploaded this photo.")
    qa = selfie_qa(clean.image)

    image_name, thumb_name = selfie_keys(company_id=company.pk, membership_id=membership.pk)
    thumb = clean.image.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    thumb_bytes = io.BytesIO()
    thumb.save(thumb_bytes, format="JPEG", quality=85)
    image_key = default_storage.save(image_name, ContentFile(clean.jpeg))
    thumb_key = ""
    try:
        # Inside the try: if the thumbnail cannot be stored, the image goes too.
        thumb_key = default_storage.save(thumb_name, ContentFile(thumb_bytes.getvalue()))
        with transaction.atomic():
            selfie = Selfie.objects.create(
                company=company, membership=membership, image_key=image_key, thumb_key=thumb_key,
                width=clean.width, height=clean.height, size_bytes=len(clean.jpeg),
                source_format=clean.source_format, content_sha256=clean.sha256,
                status=Selfie.Status.ACCEPTED if qa.accepted else Selfie.Status.REJECTED,
                qa_reasons=qa.reasons, qa_warnings=qa.warnings, qa_metrics=qa.metrics,
                uploaded_by=actor.user,
            )
            if qa.accepted:
                Membership.objects.for_company(company).filter(
                    pk=membership.pk, status=Status.CONSENTED
                ).update(status=Status.UPLOADED)
    except IntegrityError as exc:
        # The same photo arrived twice at once: keep one, leave no orphan files.
        _storage_delete(image_key, thumb_key)
        raise ServiceError("You already uploaded this photo.") from exc
    except BaseException:
        _storage_delete(image_key, thumb_key)
        raise
    return selfie


def selfie_delete(*, company: Company, actor: Membership, selfie: Selfie) -> None:
    if selfie.company_id != company.pk:
        raise NotAllowed("That photo belongs to another company.")
    if actor.pk != selfie.membership_id and not actor.is_admin:
        raise NotAllowed("You can only delete your own photos.")
    # Storage first: a row without its file is harmless, a file without its row is a leak.
    _storage_delete(selfie.image_key, selfie.thumb_key)
    with transaction.atomic():
        Selfie.objects.for_company(company).filter(pk=selfie.pk).delete()
        receipt_write(company_id=company.pk, kind="selfie", object_ref=f"selfie:{selfie.pk}",
                      subject_user_id=Membership.objects.for_company(company).filter(
                          pk=selfie.membership_id).values_list("user_id", flat=True).first(),
                      rule="deleted_by_person" if actor.pk == selfie.membership_id
                      else "deleted_by_admin", keys=[selfie.image_key, selfie.thumb_key])
        still_usable = Selfie.objects.for_company(company).filter(
            membership_id=selfie.membership_id, status=Selfie.Status.ACCEPTED
        ).exists()
        if not still_usable:
            Membership.objects.for_company(company).filter(
                pk=selfie.membership_id, status=Status.UPLOADED
            ).update(status=Status.CONSENTED)


def _storage_delete(*keys: str) -> None:
    for key in keys:
        if key:
            default_storage.delete(key)
