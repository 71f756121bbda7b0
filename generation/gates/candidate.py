"""The gate every candidate passes before anyone may see it: one function, used by scoring
(``generation.scoring``) and by ``manage.py check_candidate``.

In order, every check run (so the audit view lists every reason, not just the first):

1. **people** (``people``): no face is ``no_face`` and ends it; any other face is
   ``second_person``;
2. **the look** (``generation.conformance``): ``backdrop_off``, ``colour_cast``,
   ``face_cut_off``, ``framing_off``; a re-crop that fixes framing replaces the image, and
   everything after is measured on what would be shown;
3. **quality** (``quality``), against the person's selfies: ``blurred``, ``low_detail``;
4. **identity** (``generation.likeness.identity_check``), against every selfie and the
   colleagues: ``not_the_person``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image

from generation.conformance import Tolerances, conformance_check
from generation.intake.decode import cores_available
from generation.intake.faces import detection_copy
from generation.likeness import (
    DEFAULT_THRESHOLD,
    EMBED_LONG_SIDE,
    chips_embed,
    face_chip,
    identity_check,
)
from generation.looks import LookSpec

from . import codes
from .people import people_find
from .quality import face_quality, quality_reasons


@dataclass(frozen=True)
class References:
    """What a candidate is compared with: the person's selfie embeddings, their quality
    baseline (``quality.quality_baseline``), and colleagues' selfie centroids."""

    embeddings: list[list[float]]
    quality: dict[str, float] | None = None
    # One row each (``generation.colleagues``: an array of them).
    colleagues: Sequence[Sequence[float]] = field(default_factory=list)


@dataclass
class CandidateVerdict:
    reasons: list[str]
    metrics: dict[str, Any]
    embedding: list[float] | None = None
    distance: float | None = None  # median distance to the selfies
    recropped: Image.Image | None = None

    @property
    def shown(self) -> bool:
        return not self.reasons

    @property
    def likeness(self) -> float | None:
        return None if self.distance is None else round(1.0 - self.distance, 4)


def candidate_gate(image: Image.Image, *, references: References, look: LookSpec,
                   tolerances: Tolerances, threshold: float = DEFAULT_THRESHOLD,
                   check_colour: bool = True) -> CandidateVerdict:
    """Every gate on one candidate image (module doc). ``check_colour=False`` leaves out
    the backdrop and colour checks (a watermarked look preview: the mark covers the frame).
    """
    prepared = candidate_prepare(image, references=references, look=look,
                                 tolerances=tolerances, check_colour=check_colour)
    embeddings = chips_embed([prepared.chip]) if prepared.chip is not None else [None]
    return candidate_finish(prepared, embeddings[0], references=references, threshold=threshold)


def candidates_gate(images: list[Image.Image], *, references: References, look: LookSpec,
                    tolerances: Tolerances, threshold: float = DEFAULT_THRESHOLD,
                    check_colour: bool = True) -> list[CandidateVerdict]:
    """``candidate_gate`` for several images, their faces embedded in one batch.

    The candidates are checked side by side on ``SCORING_THREADS`` threads: the detectors,
    the segmenter, Pillow and NumPy all release the GIL, so two threads halve a job's wall
    time on two cores for the same CPU time. Each thread uses its own models
    (``generation.intake.faces``: they are not thread-safe), kept for the next job's threads.
    """
    def prepare(image: Image.Image) -> Prepared:
        return candidate_prepare(image, references=references, look=look,
                                 tolerances=tolerances, check_colour=check_colour)

    threads = min(settings.SCORING_THREADS, len(images), cores_available())
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scoring") as pool:
            prepared = list(pool.map(prepare, images))
    else:
        prepared = [prepare(image) for image in images]
    chips = [p.chip for p in prepared if p.chip is not None]
    vectors = iter(chips_embed(chips))
    return [candidate_finish(p, next(vectors) if p.chip is not None else None,
                             references=references, threshold=threshold) for p in prepared]


@dataclass
class Prepared:
    """A candidate checked up to its identity: the face chip waits to be embedded."""

    verdict: CandidateVerdict
    chip: np.ndarray | None


def candidate_prepare(image: Image.Image, *, references: References, look: LookSpec,
                      tolerances: Tolerances, check_colour: bool = True) -> Prepared:
    image = image.convert("RGB")
    people = people_find(image, upsample=0)
    reasons: list[str] = []
    metrics: dict[str, Any] = {"people": people.metrics}
    if people.main is None:
        return Prepared(CandidateVerdict(reasons=[codes.NO_FACE],
                                         metrics={**metrics, "face_found": False}), None)
    if people.others:
        reasons.append(codes.SECOND_PERSON)

    look_result = conformance_check(image, look=look, tolerances=tolerances, face=people.main)
    look_codes = look_result.flags
    if not check_colour:
        look_codes = [c for c in look_codes if c not in (codes.BACKDROP_OFF, codes.COLOUR_CAST)]
    reasons += [c for c in look_codes if c not in reasons]
    # A re-crop is kept only for an image that passes everything else.
    recropped = look_result.recropped if not reasons else None
    final = recropped if recropped is not None else image
    face = (look_result.face if recropped is not None else None) or people.main
    metrics.update(look_result.metrics)

    quality = face_quality(np.asarray(final), face)
    metrics["quality"] = quality.as_dict()
    reasons += [c for c in quality_reasons(quality, baseline=references.quality)
                if c not in reasons]

    pixels, scale = detection_copy(final, EMBED_LONG_SIDE)
    box = tuple(v * scale for v in (face.left, face.top, face.right, face.bottom))
    chip = face_chip(np.ascontiguousarray(pixels), box)
    return Prepared(CandidateVerdict(reasons=reasons, metrics=metrics, recropped=recropped), chip)


def candidate_finish(prepared: Prepared, embedding: list[float] | None, *,
                     references: References, threshold: float) -> CandidateVerdict:
    verdict = prepared.verdict
    if embedding is None:
        return verdict
    verdict.embedding = embedding
    if references.embeddings:
        identity = identity_check(embedding, references.embeddings, threshold=threshold,
                                  colleagues=references.colleagues)
        verdict.distance = identity.median
        verdict.metrics.update(identity.as_dict())
        if not identity.passes:
            verdict.reasons.append(codes.NOT_THE_PERSON)
    else:
        verdict.reasons.append(codes.NOT_THE_PERSON)  # nothing to compare with: never shown
    if verdict.reasons:
        verdict.recropped = None
    return verdict
