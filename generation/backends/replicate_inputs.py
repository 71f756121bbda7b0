"""What each Replicate model is sent: its own input names (Replicate answers 422 to inputs
a model does not declare), and the selfie as a data URI small enough for the API."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from .replicate_errors import ReplicateError

# Replicate answers 422 to inputs a model does not declare, so each model gets
# exactly its own input names. Models without a free-text prompt or an aspect
# ratio input simply do not receive them.

_NEGATIVE_PROMPT = ("cartoon, illustration, painting, 3d render, deformed face, extra limbs, "
                    "blurry, lowres, jpeg artifacts, watermark, text, logo")


def _flux_background(prompt: str) -> str:
    # The headshot app takes no free text; its backdrop is an enum
    # (neutral|white|black|gray|office), so the words before "backdrop" pick one
    # (only those: "white shirt" elsewhere in the prompt must not count).
    text = prompt.lower()
    if re.search(r"\boffice\b", text):
        return "office"
    for words in re.findall(r"((?:[\w-]+\s+){0,4})(?:backdrop|background)\b", text):
        for background, pattern in (("white", r"\bwhite\b"), ("black", r"\bblack\b"),
                                    ("gray", r"\bgr[ae]y\b")):
            if re.search(pattern, words):
                return background
    return "neutral"


_FLUX_ASPECT_RATIOS = frozenset({"match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2",
                                 "2:3", "4:5", "5:4", "21:9", "9:21", "2:1", "1:2"})


def _flux_headshot_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                          ) -> dict[str, Any]:
    return {
        "input_image": image_uri,
        # Never guessed from a photo: "none" lets the model keep the person as they are.
        "gender": "none",
        "background": _flux_background(prompt),
        "aspect_ratio": aspect_ratio if aspect_ratio in _FLUX_ASPECT_RATIOS
        else "match_input_image",
        "seed": seed,
        "output_format": "png",  # lossless: we re-encode once, at delivery
        "safety_tolerance": 2,  # the most the API allows with an input image
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


def _photomaker_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                       ) -> dict[str, Any]:
    del aspect_ratio  # PhotoMaker renders 1024x1024; the look crops later
    return {
        "input_image": image_uri,
        "prompt": _photomaker_prompt(prompt),
        "negative_prompt": _NEGATIVE_PROMPT,  # must not contain the trigger word
        "style_name": "Photographic (Default)",
        "style_strength_ratio": 20,  # 15-50; lower keeps more of the face
        "num_steps": 40,
        "num_outputs": 1,
        "guidance_scale": 5,
        "seed": seed % 2_147_483_648,  # the model allows 0..int32 max
        "disable_safety_checker": False,
    }


def _instant_id_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                       ) -> dict[str, Any]:
    del aspect_ratio  # no size input: the output follows the face image
    return {
        "image": image_uri,
        "prompt": prompt,
        "negative_prompt": _NEGATIVE_PROMPT,
        "seed": seed,
        "num_outputs": 1,
        "output_format": "png",
        "disable_safety_checker": False,
    }


@dataclass(frozen=True)
class ModelSpec:
    name: str  # "owner/name"
    source: str  # where the input names were taken from
    build: Callable[..., dict[str, Any]]
    # Whether the model reads free text: a redo's comment reaches it only then.
    takes_prompt: bool = True

    def inputs(self, *, image_uri: str, prompt: str, seed: int, aspect_ratio: str
               ) -> dict[str, Any]:
        return self.build(image_uri=image_uri, prompt=prompt, seed=seed, aspect_ratio=aspect_ratio)


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    # Input names as used against replicate.com/flux-kontext-apps/professional-headshot
    # in public client code (input_image, gender none|male|female, background
    # neutral|white|black|gray|office, aspect_ratio, seed, output_format jpg|png,
    # safety_tolerance 0-2). Its cog source is not public. Output: one URL string.
    ModelSpec("flux-kontext-apps/professional-headshot",
              "public client code for the Replicate model page", _flux_headshot_inputs,
              takes_prompt=False),
    # github.com/TencentARC/PhotoMaker predict.py (the cog behind tencentarc/photomaker):
    # input_image[2-4], prompt with one "img", style_name, negative_prompt, num_steps,
    # style_strength_ratio 15-50, num_outputs 1-4, guidance_scale, seed 0..2^31-1,
    # disable_safety_checker. Output: a list of URLs.
    ModelSpec("tencentarc/photomaker", "TencentARC/PhotoMaker predict.py", _photomaker_inputs),
    # github.com/zsxkib/InstantID cog/predict.py (zsxkib/instant-id): image,
    # pose_image, prompt, negative_prompt, sdxl_weights, ..., output_format,
    # seed, num_outputs 1-8, disable_safety_checker. Output: a list of URLs.
    ModelSpec("zsxkib/instant-id", "zsxkib/InstantID cog/predict.py", _instant_id_inputs),
]}


def model_spec(model: str) -> ModelSpec:
    """The spec for "owner/name" or a pinned "owner/name:version"."""
    spec = MODELS.get(model.split(":", 1)[0])
    if spec is None:
        raise ReplicateError(f"No input mapping for Replicate model {model!r}.", transient=False)
    return spec


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
