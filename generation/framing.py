"""Where a face sits in a finished headshot: the framing spec shared by the finish and the gates.

One place for the numbers that the finish aims at (``generation.finish``) and that the
conformance gate measures against, so the two cannot drift apart. Sizes are on the scale
of dlib's HOG face box (brows to chin, roughly), as fractions of the output's height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generation.intake.faces import Face


@dataclass(frozen=True)
class Framing:
    # dlib's face box height as a fraction of the output height, and the band it may fall in.
    face_height: float
    face_band: tuple[float, float]
    # Eye line, from the top, as a fraction of the output height, and its band.
    eye_line: float
    eye_band: tuple[float, float]
    # |face centre x - 0.5|, of the width, that still counts as centred.
    centre_tolerance: float = 0.03
    # Space the finish keeps above the crown and below the chin, in face-box heights: the
    # crown sits about 0.45 box heights above the box's top edge.
    crown_margin: float = 0.15
    # How much further than the band's top the finish may enlarge a face when the photo
    # ends too close below the chin to show the framing's body (never invent a body).
    tight_limit: float = 1.25


FRAMINGS = {
    "head_and_shoulders": Framing(0.33, (0.30, 0.36), 0.425, (0.40, 0.45)),
    "chest_up": Framing(0.24, (0.22, 0.26), 0.38, (0.36, 0.40)),
}

# dlib's HOG detector reports box sizes in steps of 6/5 (its pyramid), so the box it draws
# around a face is between ~0.83x and 1x the face's "true" size. A face rendered at
# FACE_SIZE_OVERSHOOT x the wanted box height sits mid-step and is reported at that height.
FACE_SIZE_OVERSHOOT = 1.09
# Interocular distance (5-point eye centres) over dlib's box height, for a frontal face at
# a step boundary; used to estimate the face's size more finely than the quantised box.
EYE_DISTANCE_PER_BOX = 0.385
# From the eye line down to the chin, and up to the crown, in face-box heights.
EYE_TO_CHIN = 0.62
EYE_TO_CROWN = 0.85


def framing_for(name: str) -> Framing:
    return FRAMINGS.get(name, FRAMINGS["head_and_shoulders"])


def face_size(face: Face) -> float:
    """The face's size in pixels on dlib's box scale, refined with the eye distance.

    The quantised box says the true size is between 1x and 1.2x its height; within that,
    the interocular distance decides (a turned head shortens it, hence the clip).
    """
    estimate = math.dist(face.right_eye, face.left_eye) / EYE_DISTANCE_PER_BOX
    return float(np.clip(estimate, 0.97 * face.height, 1.22 * face.height))


def face_anchor(face: Face) -> tuple[float, float]:
    """The point placed on the vertical centre line (between the box centre and the eyes'
    midpoint, which steadies it on a turned head), at the height of the eye line."""
    eye_x = (face.right_eye[0] + face.left_eye[0]) / 2
    return ((face.left + face.right) / 2 + eye_x) / 2, (face.right_eye[1] + face.left_eye[1]) / 2
