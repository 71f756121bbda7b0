"""The fake Replicate refuses what the real API refuses, and our backend's requests pass.

Raw HTTP against the fake shows each refusal as Replicate sends it; the last tests go
through generation.backends.replicate_api and the real client, as production does.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import replicate
from PIL import Image

from generation.backends import replicate_api as api
from generation.backends import replicate_inputs
from generation.backends.replicate_schemas import FLUX_KONTEXT_PRO, INSTANT_ID, PHOTOMAKER
from generation.looks import PRESETS, look_spec_example

KONTEXT = FLUX_KONTEXT_PRO.model
IMAGE = "data:image/jpeg;base64,/9j/AAAA"


def _post(fake, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{fake.base_url}{path}", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {fake.token}"})


def _kontext_input(**changes: Any) -> dict[str, Any]:
    return {"prompt": "studio headshot", "input_image": IMAGE, "seed": 1, **changes}


def _by_name(fake, model: str, inputs: dict[str, Any]) -> httpx.Response:
    return _post(fake, f"/v1/models/{model}/predictions", {"input": inputs})


# --- Which endpoint serves which model --------------------------------------------------


@pytest.mark.parametrize("model", ["someone/no-such-model", PHOTOMAKER.model, INSTANT_ID.model])
def test_by_name_is_404_for_unknown_and_community_models(fake_replicate, model):
    response = _by_name(fake_replicate, model, {"input_image": IMAGE, "image": IMAGE})
    assert response.status_code == 404
    assert response.json() == {"detail": "The requested resource could not be found.",
                               "status": 404}
    assert fake_replicate.creates == 0


def test_an_official_model_runs_by_name(fake_replicate):
    response = _by_name(fake_replicate, KONTEXT, _kontext_input())
    assert response.status_code == 201
    assert response.json()["version"] == FLUX_KONTEXT_PRO.version


def test_by_version_needs_a_version_and_only_documented_keys(fake_replicate):
    response = _post(fake_replicate, "/v1/predictions",
                     {"model": PHOTOMAKER.model, "input": {"input_image": IMAGE}})
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Input validation failed"
    assert problem["detail"] == ("- version is required\n"
                                 "- Additional property model is not allowed\n")
    assert [f["type"] for f in problem["invalid_fields"]] == [
        "required", "additional_property_not_allowed"]


@pytest.mark.parametrize("version", [
    "0" * 64, f"{PHOTOMAKER.model}:{'0' * 64}", f"{INSTANT_ID.model}:{PHOTOMAKER.version}",
    PHOTOMAKER.model, FLUX_KONTEXT_PRO.version, "someone/no-such-model"])
def test_unknown_and_official_versions_are_not_permitted(fake_replicate, version):
    # A community model needs its version; an official model's version id is not runnable
    # (official models run by name only).
    response = _post(fake_replicate, "/v1/predictions",
                     {"version": version, "input": _kontext_input()})
    assert response.status_code == 422
    assert response.json()["title"] == "Invalid version or not permitted"
    assert fake_replicate.creates == 0


@pytest.mark.parametrize("version", [PHOTOMAKER.version,
                                     f"{PHOTOMAKER.model}:{PHOTOMAKER.version}"])
def test_a_community_model_runs_by_version(fake_replicate, version):
    response = _post(fake_replicate, "/v1/predictions",
                     {"version": version, "input": {"input_image": IMAGE}})
    assert response.status_code == 201
    assert response.json()["model"] == PHOTOMAKER.model
    assert response.json()["version"] == PHOTOMAKER.version


def test_an_official_model_also_runs_by_name_through_predictions(fake_replicate):
    response = _post(fake_replicate, "/v1/predictions",
                     {"version": KONTEXT, "input": _kontext_input()})
    assert response.status_code == 201
    assert response.json()["model"] == KONTEXT


# --- The input schema ---------------------------------------------------------------------


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"input_image": IMAGE},
     [("required", "input", "prompt is required")]),
    (_kontext_input(background="gray"),  # the old headshot app's input
     [("additional_property_not_allowed", "input", "Additional property background is not "
                                                   "allowed")]),
    (_kontext_input(seed="7"),
     [("invalid_type", "input.seed", "Invalid type. Expected: integer, given: string")]),
    (_kontext_input(prompt_upsampling="no"),
     [("invalid_type", "input.prompt_upsampling",
       "Invalid type. Expected: boolean, given: string")]),
    (_kontext_input(output_format="webp"),
     [("enum", "input.output_format",
       'output_format must be one of the following: "jpg", "png"')]),
    (_kontext_input(safety_tolerance=7),
     [("number_lte", "input.safety_tolerance", "Must be less than or equal to 6")]),
    (_kontext_input(safety_tolerance=-1),
     [("number_gte", "input.safety_tolerance", "Must be greater than or equal to 0")]),
    (_kontext_input(input_image="selfie.jpg"),
     [("format", "input.input_image", "Does not match format 'uri'")]),
])
def test_input_schema_errors_are_422_with_detail(fake_replicate, inputs, expected):
    response = _by_name(fake_replicate, KONTEXT, inputs)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Input validation failed"
    assert [(f["type"], f["field"], f["description"]) for f in problem["invalid_fields"]] \
        == expected
    kind, field, description = expected[0]
    assert f"- {field}: {description}\n" == problem["detail"]
    assert fake_replicate.creates == 0


def test_a_community_version_is_checked_against_its_own_schema(fake_replicate):
    response = _post(fake_replicate, "/v1/predictions", {"version": PHOTOMAKER.version, "input": {
        "input_image": IMAGE, "style_strength_ratio": 60, "num_outputs": 0,
        "style_name": "Photographic", "seed": 2**31}})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "- input.style_strength_ratio: Must be less than or equal to 50\n"
        "- input.num_outputs: Must be greater than or equal to 1\n"
        '- input.style_name: style_name must be one of the following: "(No style)", '
        '"Cinematic", "Disney Charactor", "Digital Art", "Photographic (Default)", '
        '"Fantasy art", "Neonpunk", "Enhance", "Comic book", "Lowpoly", "Line art"\n'
        "- input.seed: Must be less than or equal to 2147483647\n")


# --- Our backend against it -----------------------------------------------------------------


def _selfie() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 80), (180, 150, 130)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_our_requests_pass_for_every_model_and_preset(fake_replicate, settings, preset):
    settings.REPLICATE_MODELS = {**settings.REPLICATE_MODELS, **settings.REPLICATE_OPT_IN_VERSIONS}
    for model in (KONTEXT, PHOTOMAKER.model, INSTANT_ID.model):
        api.prediction_create(model=model, selfie_jpeg=_selfie(), look=look_spec_example(preset),
                              seed=1_999_999_999, webhook_url="https://app.example/hooks/r")
    paths = [r.path for r in fake_replicate.requests_to("POST", "/v1/")]
    assert paths == [f"/v1/models/{KONTEXT}/predictions", "/v1/predictions", "/v1/predictions"]
    assert fake_replicate.creates == 3


def test_a_backend_input_the_model_does_not_take_fails_in_tests(fake_replicate, monkeypatch):
    build = replicate_inputs.BUILDERS[KONTEXT]
    monkeypatch.setitem(replicate_inputs.BUILDERS, KONTEXT,
                        lambda **kw: {**build(**kw), "background": "gray"})
    with pytest.raises(api.ReplicateError) as caught:
        api.prediction_create(model=KONTEXT, selfie_jpeg=_selfie(), look=look_spec_example(),
                              seed=1, webhook_url=None)
    assert (caught.value.status, caught.value.transient) == (422, False)
    assert "Additional property background is not allowed" in str(caught.value)


def test_the_old_by_name_call_of_a_community_model_is_refused(fake_replicate):
    # What the backend used to do with tencentarc/photomaker: the real API answers 404.
    client = replicate.Client(api_token=fake_replicate.token, base_url=fake_replicate.base_url)
    with pytest.raises(replicate.exceptions.ReplicateError) as caught:
        client.models.predictions.create(model=PHOTOMAKER.model, input={"input_image": IMAGE})
    assert caught.value.status == 404
