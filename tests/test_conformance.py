"""Look conformance: real retouched portraits measured against the look they were made for."""

from __future__ import annotations

import dataclasses
import json

import cv2
import pytest
from PIL import Image

from generation.backends.offline import studio_retouch
from generation.conformance import (
    ConformanceResult,
    Tolerances,
    conformance_check,
    conformance_measure,
    tolerances_for,
)
from generation.intake.faces import faces_detect
from generation.looks import LookSpec, look_spec_example

from .faces import face_image

pytestmark = pytest.mark.slow
SIZE = 640


@pytest.fixture(scope="module")
def look() -> LookSpec:
    return look_spec_example("corporate", output_size=SIZE)


@pytest.fixture(scope="module")
def tolerances(look) -> Tolerances:
    return tolerances_for(look)


@pytest.fixture(scope="module")
def candidate(look) -> Image.Image:
    return studio_retouch(face_image("obama.jpg"), look=look, seed=1)


def _zoomed_out(image: Image.Image, backdrop: tuple[int, int, int], factor: float, *,
                shift: float = 0.0) -> Image.Image:
    """``image`` shrunk by ``factor`` onto a same-size canvas of the backdrop colour,
    centred and then moved right by ``shift`` of the width."""
    canvas = Image.new("RGB", image.size, backdrop)
    small = image.resize((round(image.width * factor), round(image.height * factor)),
                         Image.Resampling.LANCZOS)
    canvas.paste(small, ((image.width - small.width) // 2 + round(shift * image.width),
                         (image.height - small.height) // 2))
    return canvas


def _assert_framed(metrics: dict, tol: Tolerances) -> None:
    assert metrics["face_found"] is True
    assert tol.face_height_min <= metrics["face_height"] <= tol.face_height_max
    assert tol.eye_line_min <= metrics["eye_line"] <= tol.eye_line_max
    assert abs(metrics["face_centre_x"] - 0.5) <= tol.centre_x_offset_max
    assert abs(metrics["roll_degrees"]) <= tol.roll_degrees_max


def test_a_proper_candidate_passes_as_it_is(candidate, look, tolerances):
    result = conformance_check(candidate, look=look, tolerances=tolerances)
    assert isinstance(result, ConformanceResult)
    assert result.passes and result.flags == []
    assert result.recropped is None and result.metrics["recropped"] is False
    _assert_framed(result.metrics, tolerances)
    assert result.metrics["backdrop_delta_e"] < tolerances.backdrop_delta_e_max
    assert 0.0 < result.metrics["face_centre_y"] < 1.0
    json.dumps(result.metrics)  # stored as it is on the candidate


def test_a_chest_up_candidate_passes_against_its_own_framing():
    look = look_spec_example("executive", output_size=SIZE)
    tolerances = tolerances_for(look)
    assert tolerances != tolerances_for(look_spec_example("corporate", output_size=SIZE))
    out = studio_retouch(face_image("obama.jpg"), look=look, seed=2)
    result = conformance_check(out, look=look, tolerances=tolerances)
    assert result.passes, result.flags
    _assert_framed(result.metrics, tolerances)


def test_measure_returns_json_numbers(candidate, look):
    metrics = conformance_measure(candidate, look=look)
    assert metrics["face_found"] is True
    for key in ("backdrop_delta_e", "face_height", "face_centre_x", "face_centre_y", "eye_line",
                "roll_degrees"):
        assert isinstance(metrics[key], float), key
    assert json.loads(json.dumps(metrics)) == metrics


def test_a_zoomed_out_candidate_is_recropped_and_then_passes(candidate, look, tolerances):
    small = _zoomed_out(candidate, look.backdrop_rgb, 0.75)
    before = conformance_measure(small, look=look)
    assert before["face_height"] < tolerances.face_height_min  # the variant really is off

    result = conformance_check(small, look=look, tolerances=tolerances)
    assert result.passes, result.flags
    assert result.recropped is not None
    assert result.recropped.size == look.output_dimensions
    assert result.metrics["recropped"] is True
    _assert_framed(result.metrics, tolerances)
    # The metrics are the re-cropped image's own.
    again = conformance_measure(result.recropped, look=look)
    assert again["face_height"] == pytest.approx(result.metrics["face_height"])


def test_an_off_centre_candidate_is_recropped_and_then_passes(candidate, look, tolerances):
    shifted = _zoomed_out(candidate, look.backdrop_rgb, 0.8, shift=0.1)
    before = conformance_measure(shifted, look=look)
    assert abs(before["face_centre_x"] - 0.5) > tolerances.centre_x_offset_max

    result = conformance_check(shifted, look=look, tolerances=tolerances)
    assert result.passes, result.flags
    assert result.recropped is not None and result.recropped.size == look.output_dimensions
    assert result.metrics["recropped"] is True
    assert abs(result.metrics["face_centre_x"] - 0.5) <= tolerances.centre_x_offset_max
    (face,) = faces_detect(result.recropped)
    assert abs((face.left + face.right) / 2 / result.recropped.width - 0.5) <= 0.05


def test_a_face_too_small_to_crop_without_blur_is_flagged(candidate, look, tolerances):
    # Framing it would need more than a modest upscale: a soft headshot is no fix.
    far = _zoomed_out(candidate, look.backdrop_rgb, 0.5)
    result = conformance_check(far, look=look, tolerances=tolerances)
    assert result.flags == ["framing_off"] and "face_size" in result.metrics["framing"]
    assert not result.passes and result.recropped is None


def test_a_wrong_backdrop_colour_is_flagged(look, tolerances):
    red = studio_retouch(face_image("obama.jpg"),
                         look=dataclasses.replace(look, backdrop_color="#FF0000"), seed=1)
    result = conformance_check(red, look=look, tolerances=tolerances)
    assert result.flags == ["backdrop_off"]
    assert not result.passes and result.recropped is None
    assert result.metrics["backdrop_delta_e"] > tolerances.backdrop_delta_e_max
    assert result.metrics["backdrop_off_share"] > 0.9


def test_a_tilted_head_is_flagged(candidate, look, tolerances):
    tilted = candidate.rotate(10, resample=Image.Resampling.BICUBIC, fillcolor=look.backdrop_rgb)
    result = conformance_check(tilted, look=look, tolerances=tolerances)
    assert "framing_off" in result.flags and "roll" in result.metrics["framing"]
    assert not result.passes and result.recropped is None
    assert abs(result.metrics["roll_degrees"]) > tolerances.roll_degrees_max


def test_a_face_far_too_large_is_flagged_and_not_cropped(candidate, look, tolerances):
    (face,) = faces_detect(candidate)
    pad = 0.15 * face.height
    close = candidate.crop((round(face.left - pad), round(face.top - 2 * pad),
                            round(face.right + pad), round(face.bottom + pad)))
    close = close.resize(candidate.size, Image.Resampling.LANCZOS)
    result = conformance_check(close, look=look, tolerances=tolerances)
    assert "framing_off" in result.flags and "face_size" in result.metrics["framing"]
    assert not result.passes
    assert result.recropped is None and result.metrics["recropped"] is False
    assert result.metrics["face_height"] > tolerances.face_height_max


def test_an_image_without_a_face_is_flagged(look, tolerances):
    blank = Image.new("RGB", look.output_dimensions, look.backdrop_rgb)
    result = conformance_check(blank, look=look, tolerances=tolerances)
    assert result.flags == ["no_face"]
    assert not result.passes and result.recropped is None
    assert result.metrics["face_found"] is False
    assert "face_height" not in result.metrics and "eye_line" not in result.metrics


def test_per_look_overrides_change_the_verdict(candidate, look, tolerances):
    strict = tolerances_for(look, {"backdrop_delta_e_max": 0.1})
    assert conformance_check(candidate, look=look, tolerances=strict).flags == ["backdrop_off"]

    tilted = candidate.rotate(10, resample=Image.Resampling.BICUBIC, fillcolor=look.backdrop_rgb)
    assert "roll" in conformance_check(tilted, look=look, tolerances=tolerances
                                       ).metrics["framing"]
    lenient = tolerances_for(look, {"roll_degrees_max": 15})
    assert "roll" not in conformance_check(tilted, look=look, tolerances=lenient
                                           ).metrics["framing"]


def test_overrides_ignore_unknown_names_and_non_numbers(look, tolerances):
    assert tolerances_for(look, {"no_such_tolerance": 3, "roll_degrees_max": "lots",
                                 "centre_x_offset_max": None}) == tolerances
    assert tolerances_for(look, None) == tolerances
    assert tolerances_for(look, {"roll_degrees_max": "8"}).roll_degrees_max == 8.0


def test_default_tolerances_follow_the_looks_framing(look, tolerances):
    assert tolerances == Tolerances()  # corporate is head-and-shoulders
    chest_up = tolerances_for(look_spec_example("executive", output_size=SIZE))
    # Chest-up shows more of the body: a smaller face, with the eyes higher in the frame.
    assert chest_up.face_height_max < tolerances.face_height_max
    assert chest_up.eye_line_max < tolerances.eye_line_max



def test_the_backdrop_measured_colour_by_colour_equals_every_pixel_measured(candidate, look,
                                                                            monkeypatch):
    """The backdrop's distinct colours are each converted once: the figures are those of
    converting every pixel, on a noisy backdrop (thousands of colours) as on a flat one."""
    import numpy as np

    from generation import conformance
    from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab

    segmented = []
    segment = conformance.person_confidence
    monkeypatch.setattr(conformance, "person_confidence",
                        lambda pixels: segmented.append(pixels) or segment(pixels))
    noise = np.random.default_rng(3).normal(0.0, 6.0, (candidate.height, candidate.width, 3))
    noisy = Image.fromarray(np.clip(np.asarray(candidate) + noise, 0, 255).astype(np.uint8))
    colours = []
    for image in (candidate, noisy):
        segmented.clear()
        measured = conformance_measure(image, look=look)
        pixels = segmented[0]
        person = segment(pixels) >= conformance.BACKDROP_CONFIDENCE
        size = 2 * conformance.BACKDROP_ERODE + 1
        near = cv2.dilate(person.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
        backdrop = pixels[~near].astype(np.float64)  # floats: converted pixel by pixel
        colours.append(len(np.unique(backdrop, axis=0)))
        lab = srgb_to_lab(backdrop)
        target = srgb_to_lab(np.array(hex_to_rgb(look.backdrop_color), dtype=np.float64))
        difference = delta_e_2000(lab, target)
        assert measured["backdrop_delta_e"] == round(float(np.median(difference)), 2)
        assert measured["backdrop_lab"] == [round(float(v), 2) for v in np.median(lab, axis=0)]
        assert measured["backdrop_off"] == [round(float((difference > t).mean()), 4)
                                            for t in range(1, 31)]
    assert colours[1] > 1000  # the noisy backdrop: many colours


def test_pixels_convert_to_linear_light_as_their_values_do():
    import numpy as np

    from generation.colour import srgb_to_linear

    values = np.arange(256)
    assert np.array_equal(srgb_to_linear(values.astype(np.uint8)),
                          srgb_to_linear(values.astype(np.float64)))
