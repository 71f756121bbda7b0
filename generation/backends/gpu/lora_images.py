"""The training images of a person's LoRA: face-centred square crops of their selfies, so
the adapter learns the face, not the selfie's background or framing."""

from __future__ import annotations

import logging

from PIL import Image, ImageOps

from ...intake.faces import Face, faces_detect

log = logging.getLogger(__name__)
# Face crop: the square's side in face heights, and how far below the face centre (in face
# heights) it is centred, so that the chin, neck and some shoulders are in the picture.
CROP_FACE_HEIGHTS = 2.5
CROP_DROP_FACE_HEIGHTS = 0.15


def face_crop_box(face: Face, width: int, height: int) -> tuple[int, int, int, int]:
    """A square of ~2.5 face heights, centred a little below the face centre, moved (not
    shrunk) to lie inside the image; only an image smaller than the square shrinks it."""
    side = min(CROP_FACE_HEIGHTS * face.height, width, height)
    centre_x = (face.left + face.right) / 2
    centre_y = (face.top + face.bottom) / 2 + CROP_DROP_FACE_HEIGHTS * face.height
    left = min(max(centre_x - side / 2, 0.0), width - side)
    top = min(max(centre_y - side / 2, 0.0), height - side)
    left_px, top_px, side_px = round(left), round(top), max(1, round(side))
    side_px = min(side_px, width - left_px, height - top_px)
    return left_px, top_px, left_px + side_px, top_px + side_px


def _largest_face(image: Image.Image) -> Face | None:
    """Fast detection first (faces ≥ ~80 px), the slower upsampled pass only when needed."""
    faces = faces_detect(image, upsample=0) or faces_detect(image)
    return faces[0] if faces else None


def training_images_prepare(images: list[Image.Image], *, resolution: int) -> list[Image.Image]:
    """Face-centred square RGB crops at ``resolution``: the LoRA should learn the face, not the
    selfie's background or framing. Images without a face are skipped (logged)."""
    prepared: list[Image.Image] = []
    for index, original in enumerate(images):
        image = ImageOps.exif_transpose(original).convert("RGB")
        face = _largest_face(image)
        if face is None:
            log.info("training image %d: no face found, skipped", index)
            continue
        box = face_crop_box(face, image.width, image.height)
        prepared.append(image.crop(box).resize((resolution, resolution), Image.Resampling.LANCZOS))
    if not prepared:
        raise ValueError(f"No face found in any of the {len(images)} training images; "
                         "a LoRA needs at least one photo with a detectable face.")
    return prepared
