"""Selfie QA on real portraits: each refusal reason, with the figure that caused it."""

from __future__ import annotations

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from generation.intake.faces import faces_detect
from generation.intake.qa import selfie_qa

from .faces import face_image


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg"])
def test_good_portraits_pass(name):
    result = selfie_qa(face_image(name))
    assert result.accepted, result.reasons
    assert result.metrics["faces"] == 1
    assert result.metrics["face_fraction"] > 0.2


def test_no_face():
    result = selfie_qa(Image.new("RGB", (800, 600), (90, 140, 200)))
    assert not result.accepted and "No face found" in result.reasons[0]
    assert result.metrics["faces"] == 0


def test_two_people():
    result = selfie_qa(face_image("two_people.jpg"))
    assert not result.accepted
    assert any("More than one person" in r for r in result.reasons)
    assert result.metrics["faces"] == 2


def test_face_too_small():
    image = face_image("obama.jpg")
    # The same face on a canvas four times as large, like a photo taken from afar.
    canvas = Image.new("RGB", (image.width * 4, image.height * 4), (128, 128, 128))
    canvas.paste(image, (image.width * 2, image.height * 2))
    result = selfie_qa(canvas)
    assert any("too small" in r for r in result.reasons), result.reasons
    assert result.metrics["face_fraction"] < 0.12


def test_blurry():
    image = face_image("obama.jpg").filter(ImageFilter.GaussianBlur(3))
    result = selfie_qa(image)
    assert any("blurry" in r for r in result.reasons)
    sharp = selfie_qa(face_image("obama.jpg")).metrics["sharpness"]
    assert result.metrics["sharpness"] < 45 < sharp


def test_too_dark_but_not_called_blurry():
    result = selfie_qa(ImageEnhance.Brightness(face_image("obama.jpg")).enhance(0.3))
    assert any("too dark" in r for r in result.reasons)
    assert not any("blurry" in r for r in result.reasons)


def test_overexposed():
    result = selfie_qa(ImageEnhance.Brightness(face_image("obama.jpg")).enhance(2.6))
    assert any("overexposed" in r for r in result.reasons)


def test_head_cut_off_at_the_edge():
    image = face_image("obama.jpg")
    face = faces_detect(image)[0]
    # Cut through the forehead: the detector still finds the face, the hair is gone.
    cropped = image.crop((0, int(face.top - 0.1 * face.height), image.width, image.height))
    result = selfie_qa(cropped)
    assert any("cut off" in r for r in result.reasons), result.reasons


def test_strong_tilt_is_a_warning_not_a_refusal():
    image = face_image("obama.jpg").rotate(20, fillcolor=(200, 200, 200))
    result = selfie_qa(image)
    assert result.accepted
    assert any("tilted" in w for w in result.warnings)
    assert abs(result.metrics["roll_degrees"]) > 12


def test_roll_sign_follows_the_rotation():
    image = face_image("obama.jpg")
    left = selfie_qa(image.rotate(15, fillcolor=(200, 200, 200))).metrics["roll_degrees"]
    right = selfie_qa(image.rotate(-15, fillcolor=(200, 200, 200))).metrics["roll_degrees"]
    assert left * right < 0 and abs(left - right) > 20
