"""What each Replicate model is sent: exactly the inputs its pinned version declares
(Replicate answers 422 to anything else), and the selfie as a data URI small enough for the
API."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from ..look_prompts import kontext_prompt
from ..looks import LookSpec
from .replicate_errors import ReplicateError
from .replicate_schemas import FLUX_KONTEXT_PRO, VersionSchema, version_schema

# Each model gets exactly the input names, types and values its pinned version declares
# (replicate_schemas.py); Replicate answers 422 to anything else, and the local fake checks
# the same schemas. Models without a free-text prompt or an aspect ratio input simply do
# not receive them.

_NEGATIVE_PROMPT = ("cartoon, illustration, painting, 3d render, deformed face, extra limbs, "
                    "blurry, lowres, jpeg artifacts, watermark, text, logo")


def _flux_kontext_inputs(*, image_uri: str, look: LookSpec, seed: int) -> dict[str, Any]:
    aspects = FLUX_KONTEXT_PRO.input["properties"]["aspect_ratio"]["enum"]
    return {
        # An edit instruction naming the look's backdrop colour and style (look_prompts.py).
        "prompt": kontext_prompt(look),
        "input_image": image_uri,
        "aspect_ratio": look.aspect_ratio if look.aspect_ratio in aspects
        else "match_input_image",
        "seed": seed,
        "output_format": "png",  # lossless: we re-encode once, at delivery
        "safety_tolerance": 2,  # the most the model allows with an input image
        # Upsampling rewrites the prompt and may drop the backdrop words.
        "prompt_upsampling": False,
    }


def _photomaker_prompt(prompt: str) -> str:
    # PhotoMaker refuses a prompt without exactly one "img" trigger word, and it
    # wants it right after the class word.
    if len(re.findall(r"\bimg\b", prompt)) == 1:
        return prompt
    cleaned = re.sub(r"\bimg\b", "", prompt).strip(" ,")
    if re.search(r"\bthe person\b", cleaned):
        return re.sub(r"\bthe person\b", "the person img", cleaned, count=1)
    return f"a photo of a person img, {cleaned}"


def _photomaker_inputs(*, image_uri: str, look: LookSpec, seed: int) -> dict[str, Any]:
    # PhotoMaker renders 1024x1024 (no size input); the finish crops to the look.
    return {
        "input_image": image_uri,
        "prompt": _photomaker_prompt(look.prompt),
        "negative_prompt": _NEGATIVE_PROMPT,  # must not contain the trigger word
        "style_name": "Photographic (Default)",
        "style_strength_ratio": 20,  # 15-50; lower keeps more of the face
        "num_steps": 40,
        "num_outputs": 1,
        "guidance_scale": 5,
        "seed": seed % 2_147_483_648,  # the model allows 0..int32 max
        "disable_safety_checker": False,
    }


def _instant_id_inputs(*, image_uri: str, look: LookSpec, seed: int) -> dict[str, Any]:
    # No size input: the output follows the face image.
    return {
        "image": image_uri,
        "prompt": look.prompt,
        "negative_prompt": _NEGATIVE_PROMPT,
        "seed": seed,
        "num_outputs": 1,
        "output_format": "png",
        "disable_safety_checker": False,
    }


@dataclass(frozen=True)
class ModelSpec:
    name: str  # "owner/name"
    version: str  # the pinned version (settings.REPLICATE_MODELS)
    schema: VersionSchema  # that version's input schema, copied from the model
    build: Callable[..., dict[str, Any]]
    # Whether the model reads free text: a redo's comment reaches it only then (all of the
    # models we know do).
    takes_prompt: bool = True
    # Whether the model reads free text: a redo's comment reaches it only then.
    takes_prompt: bool = True

    @property
    def official(self) -> bool:
        """Run by name; a community model only by version."""
        return self.schema.official

    def inputs(self, *, image_uri: str, look: LookSpec, seed: int) -> dict[str, Any]:
        return self.build(image_uri=image_uri, look=look, seed=seed)


# How each model we know is fed; which of them may run, and at which version, is settings.
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "black-forest-labs/flux-kontext-pro": _flux_kontext_inputs,
    "tencentarc/photomaker": _photomaker_inputs,
    # Opt-in only (settings.REPLICATE_OPT_IN_MODELS): InsightFace's weights are non-commercial.
    "zsxkib/instant-id": _instant_id_inputs,
}


def model_spec(model: str) -> ModelSpec:
    """The spec for "owner/name" (or "owner/name:version" naming the pinned version): its
    pinned version from settings and that version's schema; anything else is refused."""
    name, _, asked = model.partition(":")
    build = BUILDERS.get(name)
    version = settings.REPLICATE_MODELS.get(name)
    if build is None or version is None:
        hint = (" It is opt-in only: add it to REPLICATE_OPT_IN_MODELS."
                if name in settings.REPLICATE_OPT_IN_VERSIONS else "")
        raise ReplicateError(f"Replicate model {name!r} is not configured.{hint}",
                             transient=False)
    if asked and asked != version:
        raise ReplicateError(f"{name} is pinned to version {version}, not {asked}.",
                             transient=False)
    schema = version_schema(version)
    if schema is None or schema.model != name:
        raise ReplicateError(f"No input schema for {name} version {version}: copy it into "
                             "generation/backends/replicate_schemas.py before pinning it.",
                             transient=False)
    return ModelSpec(name=name, version=version, schema=schema, build=build)


# --- The selfie as a data URI ----------------------------------------------------------

# Replicate's API reference asks for data URLs only up to 256 kB; the stored
# selfies (2048 px, q90) are larger. Face models work at ~1024 px anyway.
DATA_URI_BUDGET = 256 * 1024


def selfie_data_uri(jpeg: bytes, *, budget: int = DATA_URI_BUDGET) -> str:
    if len(jpeg) > budget:
        jpeg = _shrink_jpeg(jpeg, budget)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _shrink_jpeg(jpeg: bytes, budget: int) -> bytes:
    try:
        with Image.open(io.BytesIO(jpeg)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise ReplicateError(f"The selfie could not be decoded: {error}",
                             transient=False) from error
    smallest = jpeg
    for side in (1280, 1024, 768, 512):
        copy = image.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in (90, 82, 72):
            buffer = io.BytesIO()
            copy.save(buffer, format="JPEG", quality=quality, optimize=True)
            data = buffer.getvalue()
            if len(data) <= budget:
                return data
            smallest = min(smallest, data, key=len)
    return smallest
