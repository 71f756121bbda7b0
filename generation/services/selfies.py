"""Writes for selfies (and, later, generation jobs)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from core.rls import company_of, company_scope
from core.storage import selfie_keys
from privacy.deletion import receipt_write
from privacy.services import consent_is_granted
from teams.models import Company, Membership

from ..colleagues import index_drop
from ..gates import codes
from ..intake.background import IntakeResult, intake_run, intake_submit
from ..intake.decode import IntakeLimits, mb
from ..likeness import selfie_outliers
from ..models import Selfie
from .looks import look_version_for_member

log = logging.getLogger(__name__)
Status = Membership.Status


def intake_limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=settings.SELFIE_MAX_BYTES, max_pixels=settings.SELFIE_MAX_PIXELS,
                        long_side=settings.SELFIE_LONG_SIDE)


class ConsentMissing(ServiceError):
    """The person has not given consent (or withdrew it): no photo of theirs is taken."""


def selfie_upload(
    *, company: Company, actor: Membership, membership: Membership, data: bytes,
    name: str = "",
) -> Selfie:
    """Take one uploaded file for ``membership``: decode, normalise, QA, store.

    ``actor`` is the person uploading: the employee, or an admin on their behalf. ``name``:
    the file's name, for the uploader to be told which photo a later refusal is about.
    Raises ServiceError (with a message for the person) and stores nothing when
    the file is refused. With SELFIE_INTAKE_PROCESSES > 0 the work is handed to an intake
    process (generation.intake.background) and a *pending* selfie is returned at once; its
    verdict is read with ``selfie_intake_status``.
    """
    if membership.company_id != company.pk or actor.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    if actor.pk != membership.pk and not actor.is_admin:
        raise NotAllowed("Only an admin can upload for someone else.")
    if not consent_is_granted(company=company, user=membership.user):
        raise ConsentMissing("Photos can only be uploaded after consent is given.")
    existing = Selfie.objects.for_company(company).filter(membership=membership)
    if existing.count() >= settings.SELFIES_MAX_PER_PERSON:  # photos being checked count too
        raise ServiceError(f"You already have {settings.SELFIES_MAX_PER_PERSON} photos. "
                           "Delete one to add another.")
    limits = intake_limits()
    if not data:
        raise ServiceError("The file is empty.")
    if len(data) > limits.max_bytes:
        raise ServiceError(f"The file is {mb(len(data))}; the limit is {mb(limits.max_bytes)}.")
    if settings.SELFIE_INTAKE_PROCESSES > 0:
        pending = Selfie.objects.create(
            company=company, membership=membership, image_key="", thumb_key="", width=0,
            height=0, size_bytes=0, source_format="", status=Selfie.Status.PENDING,
            content_sha256=f"pending-{uuid.uuid4().hex}", uploaded_by=actor.user)
        # After the commit: the finisher must find the pending row.
        # The file's name travels with the photo, in memory (not written to the session on
        # every upload): a refusal remembers it for the uploader's page.
        transaction.on_commit(lambda: intake_submit(
            data, limits, settings.SELFIE_INTAKE_PROCESSES,
            lambda done: _intake_finish(pending.pk, done, name=name)))
        return pending
    result = intake_run(data, limits)
    if result.refused:
        raise ServiceError(result.refused)
    return _selfie_store(company=company, actor=actor, membership=membership, result=result)


def _selfie_store(*, company: Company, actor: Membership | None, membership: Membership,
                  result: IntakeResult, pending: Selfie | None = None) -> Selfie:
    """Store intake's clean copy and thumbnail and record the verdict (on the pending row
    when there is one). Raises ServiceError for a duplicate, storing nothing."""
    if Selfie.objects.for_company(company).filter(
            membership=membership, content_sha256=result.sha256).exists():
        raise ServiceError("You already uploaded this photo.")
    qa = result.qa
    if qa["accepted"] and qa.get("embedding") is not None:
        _check_same_person(qa, Selfie.objects.for_company(company).filter(
            membership=membership, status=Selfie.Status.ACCEPTED))
    accepted = qa["accepted"]
    if accepted:
        _tight_crop_advise(qa, company=company, membership=membership)
    image_name, thumb_name = selfie_keys(company_id=company.pk, membership_id=membership.pk)
    image_key = default_storage.save(image_name, ContentFile(result.jpeg))
    thumb_key = ""
    fields = dict(
        image_key=image_key, width=result.width, height=result.height,
        size_bytes=len(result.jpeg), source_format=result.source_format,
        content_sha256=result.sha256,
        status=Selfie.Status.ACCEPTED if accepted else Selfie.Status.REJECTED,
        qa_reasons=qa["reasons"], qa_warnings=qa["warnings"],
        qa_metrics=qa["metrics"], face_embedding=qa.get("embedding"))
    try:
        # Inside the try: if the thumbnail cannot be stored, the image goes too.
        thumb_key = default_storage.save(thumb_name, ContentFile(result.thumb))
        fields["thumb_key"] = thumb_key
        with transaction.atomic():
            if pending is None:
                selfie = Selfie.objects.create(company=company, membership=membership,
                                               uploaded_by=actor.user if actor else None,
                                               **fields)
            else:
                # Only while still pending: a photo deleted meanwhile (by the person, an
                # erasure) stays deleted.
                if not Selfie.objects.for_company(company).filter(
                        pk=pending.pk, status=Selfie.Status.PENDING).update(**fields):
                    raise _Gone
                selfie = Selfie.objects.for_company(company).get(pk=pending.pk)
            if accepted:
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


class _Gone(Exception):
    """The pending selfie was deleted while its photo was being checked."""


# How long the reason a photo was refused is kept for the uploader's status check.
_REFUSAL_TTL = 24 * 3600


def _refusal_key(company_id: int, pk: int) -> str:
    return f"selfie-intake-refused:{company_id}:{pk}"


def _refusal_remember(pending: Selfie, message: str, *, name: str = "") -> None:
    """Kept for a day: whose photo it was and who sent it (only the sender is told the file's
    name again), why it was refused, and the file's name."""
    cache.set(_refusal_key(pending.company_id, pending.pk),
              (pending.membership_id, message, name[:120], pending.uploaded_by_id),
              _REFUSAL_TTL)


def _intake_finish(pk: int, done, *, name: str = "") -> None:
    """The end of a background intake, in the web process's finisher thread: store the
    verdict, or drop the pending row and remember why. Never raises: there is no one to
    raise to."""
    close_old_connections()
    try:
        # This thread's own connection names the photo's company (core/rls.py).
        with company_scope(company_of(Selfie, pk=pk)):
            pending = Selfie.objects.unscoped().select_related(  # the row names its company
                "company", "membership").filter(pk=pk, status=Selfie.Status.PENDING).first()
            if pending is None:
                return  # deleted while being checked
            try:
                error = done.exception()
                if error is not None:
                    raise error
                result: IntakeResult = done.result()
                if result.refused:
                    raise ServiceError(result.refused)
                _selfie_store(company=pending.company, actor=None, membership=pending.membership,
                              result=result, pending=pending)
            except _Gone:
                return
            except Exception as error:  # a refusal, or intake itself failed: never a lost row
                message = str(error) if isinstance(error, ServiceError) else (
                    "This photo could not be checked. Please upload it again.")
                if not isinstance(error, ServiceError):
                    log.exception("background intake failed for selfie %s", pk)
                _refusal_remember(pending, message, name=name)
                Selfie.objects.for_company(pending.company_id).filter(
                    pk=pk, status=Selfie.Status.PENDING).delete()
    except Exception:
        log.exception("could not finish background intake of selfie %s", pk)
    finally:
        close_old_connections()


@dataclass(frozen=True)
class IntakeStatus:
    status: str  # pending, accepted, rejected, refused
    selfie: Selfie | None = None
    error: str = ""
    owner_id: int | None = None  # refused: whose photo it was
    name: str = ""  # refused: the file's name, when it is known
    sender_id: int | None = None  # refused: the user who sent it, when it is known


def selfie_intake_status(*, company: Company, viewer: Membership, pk: int) -> IntakeStatus | None:
    """Where a photo handed to background intake stands, for the uploader of ``viewer`` (the
    person, or an admin uploading for them). None when there is no such photo they may see,
    and nothing is known about it."""
    return selfie_intake_statuses(company=company, viewer=viewer, pks=[pk])[pk]


def selfie_intake_statuses(*, company: Company, viewer: Membership,
                           pks: list[int]) -> dict[int, IntakeStatus | None]:
    """``selfie_intake_status`` of several photos at once: one query for the rows and one
    cache read for the refusals, however many photos a page is waiting for."""
    rows = {s.pk: s for s in Selfie.objects.for_company(company).filter(pk__in=pks)}
    missing = [pk for pk in pks if pk not in rows]
    remembered = cache.get_many([_refusal_key(company.pk, pk) for pk in missing]) \
        if missing else {}
    found: dict[int, IntakeStatus | None] = {}
    for pk in pks:
        selfie = rows.get(pk)
        if selfie is None:
            found[pk] = _refused_status(remembered.get(_refusal_key(company.pk, pk)), viewer)
        elif selfie.membership_id != viewer.pk and not viewer.is_admin:
            found[pk] = None
        else:
            found[pk] = _pending_status(selfie, company=company)
    return found


def _refused_status(remembered: tuple | None, viewer: Membership) -> IntakeStatus | None:
    if not remembered or (remembered[0] != viewer.pk and not viewer.is_admin):
        return None
    owner_id, error, *rest = remembered  # an entry from before names: neither
    name, sender_id = rest if len(rest) == 2 else ("", None)
    return IntakeStatus("refused", error=error, owner_id=owner_id, name=name,
                        sender_id=sender_id)


def _pending_status(selfie: Selfie, *, company: Company) -> IntakeStatus:
    if selfie.status != Selfie.Status.PENDING:
        return IntakeStatus(selfie.status, selfie=selfie)
    age = (timezone.now() - selfie.created_at).total_seconds()
    if age > settings.SELFIE_INTAKE_TIMEOUT_SECONDS:
        # Its web process went away with the photo in memory: say so, and free the place.
        Selfie.objects.for_company(company).filter(pk=selfie.pk,
                                                   status=Selfie.Status.PENDING).delete()
        message = "The upload was interrupted before the photo was checked. Please upload it again."
        _refusal_remember(selfie, message)
        return IntakeStatus("refused", error=message, owner_id=selfie.membership_id,
                            sender_id=selfie.uploaded_by_id)
    return IntakeStatus("pending", selfie=selfie)


def _tight_crop_advise(qa: dict, *, company: Company, membership: Membership) -> None:
    """Advise a looser photo when this one is too short below the chin for the framing of
    the look that applies to the person (head and shoulders while none is approved)."""
    version = look_version_for_member(company=company, membership=membership)
    framing = version.framing if version is not None else "head_and_shoulders"
    if framing in qa["metrics"].get("too_tight_for", []):
        qa["warnings"] = [*qa["warnings"], codes.TIGHT_CROP_ADVICE]


def _check_same_person(qa: dict, accepted) -> None:
    """Refuse the new selfie (``different_person``) when it shows somebody else than the
    person's accepted selfies (``generation.likeness.selfie_outliers``)."""
    embeddings = [e for e in accepted.order_by("created_at", "pk").values_list(
        "face_embedding", flat=True) if e is not None]
    if not embeddings:
        return
    if len(embeddings) in selfie_outliers([*embeddings, qa["embedding"]]):
        qa["accepted"] = False
        qa["codes"] = [*qa.get("codes", []), codes.DIFFERENT_PERSON]
        qa["reasons"] = [*qa["reasons"], codes.SELFIE_SENTENCES[codes.DIFFERENT_PERSON]]
        qa["metrics"] = {**qa["metrics"], "codes": list(qa["codes"])}


def selfies_consistent(selfies: list[Selfie]) -> list[Selfie]:
    """The accepted selfies that agree on one identity: what generation may use. A selfie
    without an embedding (stored before embeddings were kept at upload) is kept."""
    outliers = selfie_outliers([s.face_embedding for s in selfies])
    return [s for i, s in enumerate(selfies) if i not in outliers]


def selfie_delete(*, company: Company, actor: Membership, selfie: Selfie) -> None:
    if selfie.company_id != company.pk:
        raise NotAllowed("That photo belongs to another company.")
    if actor.pk != selfie.membership_id and not actor.is_admin:
        raise NotAllowed("You can only delete your own photos.")
    # Storage first: a row without its file is harmless, a file without its row is a leak.
    _storage_delete(selfie.image_key, selfie.thumb_key)
    with transaction.atomic():
        Selfie.objects.for_company(company).filter(pk=selfie.pk).delete()
        index_drop(company.pk)  # the colleague centroids made from it go with it
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
