"""The offline backend: a real studio retouch of the selfie, deterministic, in the look."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
from PIL import Image

from generation.backends.offline import (
    BACKEND_LABEL,
    FRAMINGS,
    NoFaceForRetouch,
    finish_subject,
    studio_retouch,
    studio_retouch_with_mask,
)
from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from generation.intake.faces import faces_detect
from generation.looks import look_spec_example
from generation.models import GenerationJob

from .faces import face_image

pytestmark = pytest.mark.slow
SIZE = 640  # long side: enough for the checks, quick on two cores


@pytest.fixture(scope="module")
def obama() -> Image.Image:
    return face_image("obama.jpg")


def _spec(preset: str = "corporate", **changes):
    return dataclasses.replace(look_spec_example(preset, output_size=SIZE), **changes)


def _digest(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_same_photo_look_and_seed_give_identical_pixels(obama):
    spec = _spec()
    first = studio_retouch(obama, look=spec, seed=11)
    second = studio_retouch(obama, look=spec, seed=11)
    assert _digest(first) == _digest(second)
    assert _digest(studio_retouch(obama, look=spec, seed=12)) != _digest(first)


def test_a_jobs_further_seeds_with_the_selfies_subject_give_the_same_pixels(obama):
    # A job finds the selfie's face and edges once (OfflineBackend.submit) for all its seeds.
    subject = finish_subject(obama)
    for preset, seed in (("corporate", 21), ("friendly", 22)):
        spec = _spec(preset)
        assert _digest(studio_retouch(obama, look=spec, seed=seed, subject=subject)) == \
            _digest(studio_retouch(obama, look=spec, seed=seed))


def test_no_face_is_said_by_the_subject_too():
    with pytest.raises(NoFaceForRetouch):
        finish_subject(Image.new("RGB", (400, 500), (128, 128, 128)))


@pytest.mark.parametrize(("aspect", "size"), [("1:1", (SIZE, SIZE)), ("4:5", (512, SIZE)),
                                              ("3:4", (480, SIZE))])
def test_output_has_the_looks_aspect_ratio_and_size(obama, aspect, size):
    assert studio_retouch(obama, look=_spec(aspect_ratio=aspect), seed=1).size == size


@pytest.mark.parametrize("preset", ["corporate", "creative", "minimal"])
def test_backdrop_is_replaced_by_the_looks_colour(obama, preset):
    spec = _spec(preset)
    out, alpha = studio_retouch_with_mask(obama, look=spec, seed=3)
    pixels = np.asarray(out)
    background = alpha < 0.02
    # The top corners are backdrop in any head-and-shoulders framing.
    assert background[:40, :40].all() and background[:40, -40:].all()
    lab = srgb_to_lab(pixels[background].reshape(-1, 3).astype(np.float64))
    target = srgb_to_lab(np.array([hex_to_rgb(spec.backdrop_color)], dtype=np.float64))
    difference = delta_e_2000(lab, np.broadcast_to(target, lab.shape))
    # A faint studio vignette is allowed; the backdrop as a whole is the look's colour.
    assert np.median(difference) < 2.0
    assert np.percentile(difference, 95) < 4.0
    # And the person is still there: most of the frame's centre is subject.
    assert alpha[int(out.height * 0.3):int(out.height * 0.6),
                 int(out.width * 0.4):int(out.width * 0.6)].mean() > 0.9


@pytest.mark.parametrize("framing", ["head_and_shoulders", "chest_up"])
def test_face_is_framed_where_the_look_wants_it(obama, framing):
    out = studio_retouch(obama, look=_spec(framing=framing, aspect_ratio="4:5"), seed=5)
    faces = faces_detect(out)
    assert len(faces) == 1
    face, wanted = faces[0], FRAMINGS[framing]
    left, top, right, bottom = face.left, face.top, face.right, face.bottom
    height = out.height
    assert wanted.face_band[0] - 0.03 <= (bottom - top) / height <= wanted.face_band[1] + 0.03
    centre_x = (left + right) / 2 / out.width
    assert abs(centre_x - 0.5) < 0.05
    eye_y = (face.left_eye[1] + face.right_eye[1]) / 2 / height
    assert wanted.eye_band[0] - 0.02 <= eye_y <= wanted.eye_band[1] + 0.02


def test_a_tilted_head_is_levelled(obama):
    tilted = obama.rotate(8, resample=Image.Resampling.BICUBIC, expand=False,
                          fillcolor=(128, 128, 128))
    out = studio_retouch(tilted, look=_spec(), seed=2)
    (face,) = faces_detect(out)
    (rx, ry), (lx, ly) = face.right_eye, face.left_eye  # image-left, image-right
    roll = np.degrees(np.arctan2(ly - ry, lx - rx))
    assert abs(roll) < 3.0


def test_colour_cast_and_underexposure_are_normalised(obama):
    spec = _spec()
    reference = np.asarray(studio_retouch(obama, look=spec, seed=4), dtype=np.float64)
    # A dim, blue-tinted copy of the same selfie.
    factors = np.array([0.66, 0.70, 0.80])
    dim = Image.fromarray(np.clip(np.asarray(obama, dtype=np.float64) * factors, 0, 255)
                          .astype(np.uint8))
    fixed = np.asarray(studio_retouch(dim, look=spec, seed=4), dtype=np.float64)
    (face,) = faces_detect(Image.fromarray(reference.astype(np.uint8)))
    region = (slice(int(face.top), int(face.bottom)), slice(int(face.left), int(face.right)))
    wanted = reference[region].mean(axis=(0, 1))
    uncorrected = wanted * factors  # what the face would be with no correction at all
    after = fixed[region].mean(axis=(0, 1))

    def cast(rgb):  # blue against red
        return rgb[2] - rgb[0]

    assert abs(cast(after) - cast(wanted)) < abs(cast(uncorrected) - cast(wanted))  # less blue


def test_an_underexposed_face_is_brightened(obama):
    spec = _spec()
    dark = Image.fromarray((np.asarray(obama, dtype=np.float64) * 0.45).astype(np.uint8))
    out = np.asarray(studio_retouch(dark, look=spec, seed=4), dtype=np.float64)
    (face,) = faces_detect(Image.fromarray(out.astype(np.uint8)))
    region = (slice(int(face.top), int(face.bottom)), slice(int(face.left), int(face.right)))
    darkened = np.asarray(studio_retouch(obama, look=spec, seed=4), dtype=np.float64) * 0.45
    # At most half a stop is added, and the dark face gets most of it.
    assert out[region].mean() > darkened[region].mean() * 1.2


def test_a_photo_without_a_face_is_refused_with_a_clear_message():
    blank = Image.new("RGB", (600, 800), (200, 180, 160))
    with pytest.raises(NoFaceForRetouch, match="No face was found"):
        studio_retouch(blank, look=_spec(), seed=1)


def test_backend_is_labelled_honestly():
    assert BACKEND_LABEL == "Studio retouch, offline"
    assert GenerationJob.Backend.OFFLINE.label == BACKEND_LABEL
