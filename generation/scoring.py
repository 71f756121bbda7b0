"""Scoring candidates before anyone sees them.

Every candidate, from every backend, is measured twice before it can be shown:

* **likeness** (``generation.likeness``): its face embedding against the embeddings of the
  selfies the job used, as the median distance. Over the company's threshold (or with no
  face at all) it is hidden for good: never on a page, in a JSON response or an export.
* **look conformance** (``generation.conformance``): backdrop colour, face size, centre,
  eye line and roll against the approved look version. Framing a crop can fix is re-cropped
  (the stored image is replaced); what it cannot fix is flagged, and flagged candidates are
  shown only when no unflagged ones are left to choose from.

Of the candidates that pass, the best ``KEEP_PER_JOB`` are shown (oversampling). Too few,
and the job asks its backend for more seeds (``LIKENESS_MAX_REGENERATIONS`` times); then it
says honestly that it could not make a good likeness.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from .likeness import NoFaceToScore, face_embedding, likeness_distance
from .looks import LookSpec
from .models import Candidate, GenerationJob, JobSelfie, Selfie

log = logging.getLogger(__name__)

HIDDEN_LIKENESS = "not a good enough likeness"
HIDDEN_NO_FACE = "no face found"
HIDDEN_NOT_BEST = "not among the best of the job"
THUMB_SIZE = 384


@dataclass(frozen=True)
class JobScore:
    scored: int
    passing: int  # a good likeness
    shown: int
    hidden: int


def likeness_threshold(company) -> float:
    """The company's own threshold, else the platform's calibrated default."""
    if company.likeness_threshold is not None:
        return float(company.likeness_threshold)
    return float(settings.LIKENESS_THRESHOLD)


def _open(key: str) -> Image.Image:
    with default_storage.open(key, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image.convert("RGB")


def _reference_embeddings(job: GenerationJob) -> list[list[float]]:
    """Embeddings of the selfies this job was made from (computed once, kept on the selfie)."""
    selfie_ids = JobSelfie.objects.for_company(job.company_id).filter(job=job).values_list(
        "selfie_id", flat=True)
    embeddings = []
    for selfie in Selfie.objects.for_company(job.company_id).filter(pk__in=list(selfie_ids)):
        if selfie.face_embedding is None:
            try:
                vector = face_embedding(_open(selfie.image_key))
            except (NoFaceToScore, OSError):
                continue
            Selfie.objects.for_company(job.company_id).filter(pk=selfie.pk).update(
                face_embedding=vector)
            selfie.face_embedding = vector
        embeddings.append(selfie.face_embedding)
    return embeddings


def _replace_image(candidate: Candidate, image: Image.Image) -> None:
    """Store a re-cropped candidate in place of the original (same keys: nothing dangles)."""
    full, thumb = io.BytesIO(), io.BytesIO()
    image.save(full, format="JPEG", quality=92)
    preview = image.copy()
    preview.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    preview.save(thumb, format="JPEG", quality=85)
    for key, data in ((candidate.image_key, full), (candidate.thumb_key, thumb)):
        default_storage.delete(key)
        saved = default_storage.save(key, ContentFile(data.getvalue()))
        if saved != key:  # storage renamed it: keep what it chose
            if key == candidate.image_key:
                candidate.image_key = saved
            else:
                candidate.thumb_key = saved
    candidate.width, candidate.height = image.size


def candidate_score(candidate: Candidate, *, references: list[list[float]], look: LookSpec,
                    tolerances: dict) -> None:
    """Measure one candidate (likeness, conformance) and store the figures on it."""
    from .conformance import conformance_check, tolerances_for

    image = _open(candidate.image_key)
    result = conformance_check(image, look=look, tolerances=tolerances_for(look, tolerances))
    if result.recropped is not None:
        image = result.recropped
        _replace_image(candidate, image)
    try:
        vector = face_embedding(image)
    except NoFaceToScore:
        vector = None
    candidate.face_embedding = vector
    if vector is not None and references:
        distance = likeness_distance(vector, references)
        candidate.likeness_distance = round(distance, 4)
        candidate.likeness = round(1.0 - distance, 4)
    else:
        candidate.likeness_distance = candidate.likeness = None
    candidate.conformance = {**result.metrics, "flags": list(result.flags)}
    candidate.scored_at = timezone.now()
    Candidate.objects.for_company(candidate.company_id).filter(pk=candidate.pk).update(
        face_embedding=candidate.face_embedding, likeness=candidate.likeness,
        likeness_distance=candidate.likeness_distance, conformance=candidate.conformance,
        scored_at=candidate.scored_at, image_key=candidate.image_key,
        thumb_key=candidate.thumb_key, width=candidate.width, height=candidate.height)


def job_score(job: GenerationJob, candidates: list[Candidate]) -> JobScore:
    """Score what is not scored yet, then decide which of the job's candidates are shown."""
    from .services.jobs import look_spec

    version = job.look_version
    look = look_spec(version)
    references = _reference_embeddings(job)
    for candidate in candidates:
        if candidate.scored_at is None:
            candidate_score(candidate, references=references, look=look,
                            tolerances=version.tolerances)
    threshold = likeness_threshold(job.company)
    keep = settings.KEEP_PER_JOB.get(job.backend, 4)
    everything = list(Candidate.objects.for_company(job.company_id).filter(job=job))
    passing = [c for c in everything
               if c.likeness_distance is not None and c.likeness_distance <= threshold]
    # Unflagged first, then the closest likeness.
    passing.sort(key=lambda c: (bool(c.conformance.get("flags")), c.likeness_distance))
    shown = {c.pk for c in passing[:keep]}
    with transaction.atomic():
        for candidate in everything:
            if candidate.pk in shown:
                visible, reason = True, ""
            elif candidate.face_embedding is None:
                visible, reason = False, HIDDEN_NO_FACE
            elif candidate in passing:
                visible, reason = False, HIDDEN_NOT_BEST
            else:
                visible, reason = False, HIDDEN_LIKENESS
            if (candidate.visible, candidate.hidden_reason) != (visible, reason):
                Candidate.objects.for_company(job.company_id).filter(pk=candidate.pk).update(
                    visible=visible, hidden_reason=reason)
    outcome = JobScore(scored=len(everything), passing=len(passing), shown=len(shown),
                       hidden=len(everything) - len(shown))
    log.info("job %s scored: %s", job.pk, outcome)
    return outcome
