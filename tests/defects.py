"""Defects made from real photos at run time: what the gates must catch, and benign changes
they must let through. Nothing here is stored; every image is built in memory.

Used by the gate tests and by ``bench/likeness_calibration.py`` (which puts the repository
root on ``sys.path``).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def _face_box(image: Image.Image) -> tuple[float, float, float, float]:
    from generation.intake.faces import faces_detect

    faces = faces_detect(image)
    if not faces:
        raise ValueError("no face in the source image")
    f = faces[0]
    return f.left, f.top, f.right, f.bottom


def head_cutout(source: Image.Image, *, height: int) -> tuple[Image.Image, Image.Image]:
    """The head of the person in ``source`` (hair to chin), ``height`` px high, and an
    elliptical, feathered mask for pasting it."""
    left, top, right, bottom = _face_box(source)
    w, h = right - left, bottom - top
    box = (round(left - 0.3 * w), round(top - 0.55 * h), round(right + 0.3 * w),
           round(bottom + 0.25 * h))
    head = source.crop(box)
    scale = height / head.height
    head = head.resize((max(1, round(head.width * scale)), height), Image.Resampling.LANCZOS)
    mask = Image.new("L", head.size, 0)
    ImageDraw.Draw(mask).ellipse((head.width * 0.06, head.height * 0.03, head.width * 0.94,
                                  head.height * 0.98), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, height / 40)))
    return head, mask


def paste_second_face(image: Image.Image, other: Image.Image, *, height_fraction: float,
                      centre: tuple[float, float], opacity: float = 1.0) -> Image.Image:
    """``other``'s head pasted into ``image`` at ``centre`` (fractions of the frame), its
    height ``height_fraction`` of the frame's; ``opacity`` < 1 makes a ghost. May run over
    the frame's edge (a partial face)."""
    head, mask = head_cutout(other, height=max(8, round(image.height * height_fraction)))
    if opacity < 1.0:
        mask = mask.point(lambda v: round(v * opacity))
    out = image.copy()
    x = round(centre[0] * image.width - head.width / 2)
    y = round(centre[1] * image.height - head.height / 2)
    out.paste(head, (x, y), mask)
    return out


def shift_out(image: Image.Image, *, fraction_of_face: float, backdrop: tuple[int, int, int],
              direction: str = "right") -> Image.Image:
    """The photo moved so ``fraction_of_face`` of the face's width (or height, for
    "up"/"down") leaves the frame; the uncovered side is backdrop."""
    left, top, right, bottom = _face_box(image)
    canvas = Image.new("RGB", image.size, backdrop)
    if direction in ("right", "left"):
        distance = image.width - left - (right - left) * (1 - fraction_of_face) \
            if direction == "right" else right - (right - left) * (1 - fraction_of_face)
        dx = round(distance) if direction == "right" else -round(distance)
        canvas.paste(image, (dx, 0))
    else:
        dy = -round(bottom - (bottom - top) * (1 - fraction_of_face)) if direction == "up" \
            else round(image.height - top - (bottom - top) * (1 - fraction_of_face))
        canvas.paste(image, (0, dy))
    return canvas


def blur(image: Image.Image, sigma: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma))


def pixelate(image: Image.Image, block: int) -> Image.Image:
    small = image.resize((max(1, image.width // block), max(1, image.height // block)),
                         Image.Resampling.BILINEAR)
    return small.resize(image.size, Image.Resampling.NEAREST)


def paint_strip(image: Image.Image, *, colour: tuple[int, int, int], width_fraction: float,
                side: str = "left") -> Image.Image:
    """A solid vertical strip down one side of the frame (over backdrop and shoulder)."""
    out = image.copy()
    width = round(image.width * width_fraction)
    box = (0, 0, width, image.height) if side == "left" else (image.width - width, 0,
                                                               image.width, image.height)
    ImageDraw.Draw(out).rectangle(box, fill=colour)
    return out


def colour_cast(image: Image.Image, gains: tuple[float, float, float]) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * np.asarray(gains, dtype=np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def blend(a: Image.Image, b: Image.Image, weight_a: float) -> Image.Image:
    """A morph of two identities: ``b`` moved so its eyes sit on ``a``'s (a similarity
    transform), then the pixels blended. Unaligned, a blend is two ghosted faces, and the
    stronger one is simply found; a morph is one face between the two people."""
    from generation.intake.faces import faces_detect

    fa, fb = faces_detect(a), faces_detect(b)
    if not fa or not fb:
        raise ValueError("no face to align the blend on")
    src = np.float32([fb[0].right_eye, fb[0].left_eye])
    dst = np.float32([fa[0].right_eye, fa[0].left_eye])
    matrix, _ = cv2.estimateAffinePartial2D(src, dst)
    if matrix is None:  # two points always give a similarity; this is only a guard
        raise ValueError("could not align the blend")
    moved = cv2.warpAffine(np.asarray(b.convert("RGB")), matrix, a.size,
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.blend(Image.fromarray(moved), a.convert("RGB"), weight_a)


def stylise(image: Image.Image) -> Image.Image:
    """A painted, cartoon-like rendering (edge-preserving smoothing and colour levels)."""
    rgb = np.asarray(image.convert("RGB"))
    painted = cv2.stylization(rgb, sigma_s=60, sigma_r=0.45)
    return Image.fromarray(painted)


def cartoon(image: Image.Image) -> Image.Image:
    """Flat colour regions with dark outlines, as a cartoon filter makes."""
    rgb = np.asarray(image.convert("RGB"))
    smooth = rgb
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 9)
    # Widened before the arithmetic: 240 // 40 * 40 + 20 would wrap round in uint8.
    quantised = np.minimum((smooth.astype(np.int16) // 40) * 40 + 20, 255).astype(np.uint8)
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return Image.fromarray(np.where(edges[..., None] > 0, quantised, 20).astype(np.uint8))


def jpeg_reencode(image: Image.Image, quality: int = 80) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def rescale(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)),
                        Image.Resampling.LANCZOS)


def mirror_pair(image: Image.Image) -> Image.Image:
    """The photo and its mirror image side by side, squeezed back into the frame: two
    people (the same face twice) in one picture."""
    pair = Image.new("RGB", (image.width * 2, image.height))
    pair.paste(image, (0, 0))
    pair.paste(ImageOps.mirror(image), (image.width, 0))
    return pair.resize(image.size, Image.Resampling.LANCZOS)
