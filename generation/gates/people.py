"""One person per photo: the main face, and every other face above a calibrated size.

dlib's HOG detector (the main face and its landmarks) misses small, partial, turned and
faint faces, so other faces are looked for by several passes, each good at something the
others miss, and every proposal must then be confirmed:

* **proposals**: dlib's faces besides the main one; MediaPipe's BlazeFace (short and full
  range) on the frame with its top and side borders mirrored outwards, which completes a face
  cut by the edge into a whole (mirrored) face the detectors know; and BlazeFace on four overlapping
  quarters of the frame, where a small or faint face in the backdrop is twice as large to
  the model;
* **confirmation**: a close-up of each proposal (twice its size, mirrored at the frame's
  edges) is detected again, by BlazeFace and by dlib; a face is counted when either finds a
  face at its centre. Texture that fooled one detector once rarely does so twice at another
  scale, and a real face is found again.

A proposal counts as another person only if its centre lies in the frame (a mirrored copy
of the main face outside it does not), it does not overlap the main face, and it is at least
``MIN_OTHER_FACE`` of the frame's shorter side high: smaller than that, a face is a speck in
the backdrop, not a person anyone would see in a headshot (bench/likeness_calibration.py
shows what each size catches).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from generation.intake.faces import (
    DETECT_LONG_SIDE,
    Face,
    blazeface,
    detection_copy,
    faces_detect_array,
    landmarks_for,
)

QUICK_LONG_SIDE = 320  # a headshot's face (>= 80 px here) is found by dlib's quick pass
MIN_OTHER_FACE = 0.05  # another face's height, of the frame's shorter side
# BlazeFace score for a proposal: second faces in the calibration scored 0.67-0.96; collars,
# folds and mirrored torsos that looked like faces, 0.51-0.58.
PROPOSAL_SCORE = 0.6
CONFIRM_SCORE = 0.6  # BlazeFace score on the close-up that confirms it
MIRROR_PAD = 0.25  # of the long side, mirrored outwards at each border
TILE_OVERLAP = 0.3
CLOSE_UP_SIDE = 192  # the close-up's side, pixels
CLOSE_UP_ZOOM = 2.2  # the close-up spans this many proposal sizes
EDGE_SLACK = 0.25  # of a face's size: how far beyond the edge its centre may lie
MAIN_FACE_MARGIN = 0.1  # around the main face, of its size: proposals there are the main face
MAIN_FALLBACK_SCORE = 0.75  # BlazeFace score to take a face dlib missed as the main face


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float
    score: float
    source: str

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    @property
    def size(self) -> float:
        return max(self.right - self.left, self.bottom - self.top)


@dataclass
class People:
    """The main face (None: no face), and the other people's faces, in image pixels."""

    main: Face | None
    others: list[Box] = field(default_factory=list)
    proposals: int = 0

    @property
    def metrics(self) -> dict:
        return {"faces": (self.main is not None) + len(self.others),
                "other_faces": [[round(v, 1) for v in (b.left, b.top, b.right, b.bottom)]
                                + [round(b.score, 2)] for b in self.others]}


def people_find(image: Image.Image, *, upsample: int = 1,
                min_other_face: float = MIN_OTHER_FACE) -> People:
    """The main face and any other person's face in ``image``.

    ``upsample=1`` (selfies, whose face may be small): dlib's quick pass at DETECT_LONG_SIDE
    (faces of 80 px and more), then, only if it finds none, the upsampled pass (down to
    ~40 px) that is three times slower. ``0`` (candidates, framed headshots whose face is a quarter of the
    frame or more): dlib looks on a QUICK_LONG_SIDE copy first (a quarter of the pixels),
    and other faces are left to the BlazeFace passes, which find the small ones anyway.
    """
    pixels, scale = detection_copy(image, DETECT_LONG_SIDE)
    faces = _main_faces(image, pixels, scale) if upsample == 0 \
        else faces_detect_array(pixels, upsample=0) \
        or faces_detect_array(pixels, upsample=upsample)
    blaze = _blaze_proposals(pixels)
    main = faces[0] if faces else _main_from_blaze(pixels, blaze)
    if main is None:
        return People(main=None)
    height, width = pixels.shape[:2]
    floor = min_other_face * min(width, height)
    proposals = [Box(f.left, f.top, f.right, f.bottom, f.score, "dlib") for f in faces
                 if f is not main] + blaze
    # A face cut by the frame is found whole on the mirrored border, centred on the edge or
    # a little beyond it; the main face's own mirror image lies further out, or on it.
    candidates = [b for b in proposals if b.size >= floor
                  and _in_frame(b, width, height, slack=EDGE_SLACK * b.size)
                  and not _is_main(b, main)]
    others: list[Box] = []
    for box in sorted(candidates, key=lambda b: b.score, reverse=True):
        if any(_same_face(box, o) for o in others):
            continue
        if _confirmed(pixels, box):
            others.append(box)
    return People(main=_scaled_face(main, scale),
                  others=[_scaled_box(b, scale) for b in others], proposals=len(proposals))


def _main_faces(image: Image.Image, pixels: np.ndarray, scale: float) -> list[Face]:
    """dlib's faces for a framed headshot, in ``pixels``' coordinates: on a small copy when
    that finds one (landmarks then come from the full detection copy), else at full size."""
    small, small_scale = detection_copy(image, QUICK_LONG_SIDE)
    found = faces_detect_array(small, upsample=0)
    if found:
        ratio = scale / small_scale
        return [_face_from_box(pixels, (f.left * ratio, f.top * ratio, f.right * ratio,
                                        f.bottom * ratio), f.score) for f in found]
    return faces_detect_array(pixels, upsample=0) or faces_detect_array(pixels, upsample=1)


def _face_from_box(pixels: np.ndarray, box: tuple[float, float, float, float],
                   score: float) -> Face:
    shape = landmarks_for(pixels, box)
    points = [(p.x, p.y) for p in shape.parts()]
    eye_a = ((points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
    eye_b = ((points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2)
    right_eye, left_eye = sorted((eye_a, eye_b))
    return Face(left=box[0], top=box[1], right=box[2], bottom=box[3], score=score,
                right_eye=right_eye, left_eye=left_eye, nose=points[4])


def _blaze_proposals(pixels: np.ndarray) -> list[Box]:
    height, width = pixels.shape[:2]
    boxes: list[Box] = []
    pad = round(MIRROR_PAD * max(width, height))
    # Not below: a headshot's bottom edge cuts the body, whose mirror image can look like a
    # face; a face cut by the bottom edge is still seen by the quarters.
    padded = cv2.copyMakeBorder(pixels, pad, 0, pad, pad, cv2.BORDER_REFLECT_101)
    for model in (0, 1):
        boxes += _blaze(padded, model, offset=(-pad, -pad))
    tile_w = round(width / (2 - TILE_OVERLAP))
    tile_h = round(height / (2 - TILE_OVERLAP))
    for x in (0, width - tile_w):
        for y in (0, height - tile_h):
            tile = np.ascontiguousarray(pixels[y:y + tile_h, x:x + tile_w])
            for model in (0, 1):
                boxes += _blaze(tile, model, offset=(x, y))
    return [b for b in boxes if b.score >= PROPOSAL_SCORE]


def _blaze(pixels: np.ndarray, model: int, *, offset: tuple[float, float]) -> list[Box]:
    result = blazeface(model).process(pixels)
    height, width = pixels.shape[:2]
    boxes = []
    for detection in result.detections or []:
        rel = detection.location_data.relative_bounding_box
        left = rel.xmin * width + offset[0]
        top = rel.ymin * height + offset[1]
        boxes.append(Box(left, top, left + rel.width * width, top + rel.height * height,
                         float(detection.score[0]), f"blazeface{model}"))
    return boxes


def _main_from_blaze(pixels: np.ndarray, blaze: list[Box]) -> Face | None:
    """A clear face dlib's frontal detector missed (turned, partly covered): its landmarks
    from dlib's predictor on BlazeFace's box."""
    # A face cut by the frame is found whole on the mirrored border, centred near the edge:
    # it is the main face (then cut off), so its centre may lie a little outside.
    sure = [b for b in blaze if b.score >= MAIN_FALLBACK_SCORE
            and _in_frame(b, pixels.shape[1], pixels.shape[0], slack=0.25 * b.size)]
    if not sure:
        return None
    box = max(sure, key=lambda b: b.size)
    return _face_from_box(pixels, (box.left, box.top, box.right, box.bottom), box.score)


def _in_frame(box: Box, width: int, height: int, slack: float = 0.0) -> bool:
    x, y = box.centre
    return -slack <= x <= width + slack and -slack <= y <= height + slack


def _is_main(box: Box, main: Face) -> bool:
    x, y = box.centre
    mx, my = main.width * MAIN_FACE_MARGIN, main.height * MAIN_FACE_MARGIN
    inside = main.left - mx <= x <= main.right + mx and main.top - my <= y <= main.bottom + my
    return inside or _iou(box, Box(main.left, main.top, main.right, main.bottom, 0, "")) > 0.1


def _same_face(a: Box, b: Box) -> bool:
    x, y = a.centre
    return (b.left <= x <= b.right and b.top <= y <= b.bottom) or _iou(a, b) > 0.3


def _iou(a: Box, b: Box) -> float:
    w = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    h = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    inter = w * h
    union = ((a.right - a.left) * (a.bottom - a.top) + (b.right - b.left) * (b.bottom - b.top)
             - inter)
    return inter / union if union > 0 else 0.0


def _confirmed(pixels: np.ndarray, box: Box) -> bool:
    """Is there a face at the centre of a close-up of ``box``, to either detector?"""
    height, width = pixels.shape[:2]
    side = CLOSE_UP_ZOOM * box.size
    pad = round(side)
    padded = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    cx, cy = box.centre
    left, top = round(cx - side / 2) + pad, round(cy - side / 2) + pad
    crop = padded[top:top + round(side), left:left + round(side)]
    if crop.size == 0:
        return False
    close = np.ascontiguousarray(cv2.resize(crop, (CLOSE_UP_SIDE, CLOSE_UP_SIDE),
                                            interpolation=cv2.INTER_AREA if side > CLOSE_UP_SIDE
                                            else cv2.INTER_CUBIC))
    middle = CLOSE_UP_SIDE / 2
    reach = CLOSE_UP_SIDE * 0.2

    def central(b: Box) -> bool:
        x, y = b.centre
        return abs(x - middle) <= reach and abs(y - middle) <= reach

    found = [b for b in _blaze(close, 0, offset=(0, 0)) if b.score >= CONFIRM_SCORE]
    if any(central(b) for b in found):
        return True
    for face in faces_detect_array(close, upsample=1):
        if central(Box(face.left, face.top, face.right, face.bottom, face.score, "dlib")):
            return True
    return False


def _scaled_face(face: Face, scale: float) -> Face:
    if scale == 1.0:
        return face

    def s(point: tuple[float, float]) -> tuple[float, float]:
        return (point[0] / scale, point[1] / scale)

    return Face(left=face.left / scale, top=face.top / scale, right=face.right / scale,
                bottom=face.bottom / scale, score=face.score, right_eye=s(face.right_eye),
                left_eye=s(face.left_eye), nose=s(face.nose))


def _scaled_box(box: Box, scale: float) -> Box:
    return Box(box.left / scale, box.top / scale, box.right / scale, box.bottom / scale,
               box.score, box.source)
