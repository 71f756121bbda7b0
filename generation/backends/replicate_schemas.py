"""The input schemas of the Replicate model versions we pin, copied from the models themselves.

Each entry is the version's ``Input`` schema as Replicate publishes it (OpenAPI, JSON Schema
subset: ``type``, ``enum``, ``minimum``/``maximum``, ``format: uri``, ``required``), with
Cog's ``allOf: [{"$ref": ...}]`` enums written inline. The pinned versions themselves are
settings (``REPLICATE_MODELS``); a version without a schema here is refused, so changing a pin
means copying that version's schema too. The local fake (tests/fakes/replicate_schema.py)
validates every prediction against these, the way Replicate does, so an input name, type or
value a model does not take fails in tests as it would in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_URI = {"type": "string", "format": "uri"}
_INT32_MAX = 2_147_483_647  # numpy.iinfo(np.int32).max, PhotoMaker's MAX_SEED


@dataclass(frozen=True)
class VersionSchema:
    model: str  # "owner/name"
    version: str  # the 64-hex version id the schema belongs to
    # Official models are run by name (POST /v1/models/{owner}/{name}/predictions, which
    # serves their current version); community models only by version (POST
    # /v1/predictions with "version"): the by-name endpoint answers them 404.
    official: bool
    input: dict[str, Any]  # JSON Schema of the prediction's "input"
    output_is_list: bool  # a list of URLs, or one URL string
    source: str  # where the schema was read


FLUX_KONTEXT_PRO = VersionSchema(
    model="black-forest-labs/flux-kontext-pro",
    version="0a1381936934845a14efcc9f309ce7d031cb905867878b5c5830280e00e97606",
    official=True,
    input={
        "type": "object",
        "required": ["prompt"],
        "properties": {
            "prompt": {"type": "string"},
            "input_image": _URI,  # jpeg, png, gif or webp
            "aspect_ratio": {"type": "string", "default": "match_input_image", "enum": [
                "match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5",
                "5:4", "21:9", "9:21", "2:1", "1:2"]},
            "prompt_upsampling": {"type": "boolean", "default": False},
            "seed": {"type": "integer"},
            "output_format": {"type": "string", "default": "png", "enum": ["jpg", "png"]},
            # 0 strictest .. 6; with an input image 2 is the most the model accepts.
            "safety_tolerance": {"type": "integer", "default": 2, "minimum": 0, "maximum": 6},
        },
    },
    output_is_list=False,
    source="replicate.com/black-forest-labs/flux-kontext-pro/versions/0a138193…/api "
           "(an official model: no public cog source)",
)

_PHOTOMAKER_STYLES = ["(No style)", "Cinematic", "Disney Charactor", "Digital Art",
                      "Photographic (Default)", "Fantasy art", "Neonpunk", "Enhance",
                      "Comic book", "Lowpoly", "Line art"]

PHOTOMAKER = VersionSchema(
    model="tencentarc/photomaker",
    version="ddfc2b08d209f9fa8c1eca692712918bd449f695dabb4a958da31802a9570fe4",
    official=False,
    input={
        "type": "object",
        "required": ["input_image"],
        "properties": {
            "input_image": _URI,
            "input_image2": _URI,
            "input_image3": _URI,
            "input_image4": _URI,
            # Must hold the trigger word "img" exactly once (checked by the model at run time).
            "prompt": {"type": "string", "default": "A photo of a person img"},
            "style_name": {"type": "string", "default": "Photographic (Default)",
                           "enum": _PHOTOMAKER_STYLES},
            "negative_prompt": {"type": "string"},
            "num_steps": {"type": "integer", "default": 20, "minimum": 1, "maximum": 100},
            "style_strength_ratio": {"type": "number", "default": 20, "minimum": 15,
                                     "maximum": 50},
            "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 4},
            "guidance_scale": {"type": "number", "default": 5, "minimum": 1, "maximum": 10},
            "seed": {"type": "integer", "minimum": 0, "maximum": _INT32_MAX},
            "disable_safety_checker": {"type": "boolean", "default": False},
        },
    },
    output_is_list=True,
    source="github.com/TencentARC/PhotoMaker predict.py (commit 6ec44fc) and "
           "gradio_demo/style_template.py",
)

_INSTANT_ID_WEIGHTS = [
    "stable-diffusion-xl-base-1.0", "juggernaut-xl-v8", "afrodite-xl-v2", "albedobase-xl-20",
    "albedobase-xl-v13", "animagine-xl-30", "anime-art-diffusion-xl",
    "anime-illust-diffusion-xl", "dreamshaper-xl", "dynavision-xl-v0610", "guofeng4-xl",
    "nightvision-xl-0791", "omnigen-xl", "pony-diffusion-v6-xl", "protovision-xl-high-fidel",
    "RealVisXL_V3.0_Turbo", "RealVisXL_V4.0_Lightning"]
_INSTANT_ID_SCHEDULERS = [
    "DEISMultistepScheduler", "HeunDiscreteScheduler", "EulerDiscreteScheduler",
    "DPMSolverMultistepScheduler", "DPMSolverMultistepScheduler-Karras",
    "DPMSolverMultistepScheduler-Karras-SDE"]


def _unit(maximum: float, default: float) -> dict[str, Any]:
    return {"type": "number", "default": default, "minimum": 0, "maximum": maximum}


# Opt-in only (settings.REPLICATE_OPT_IN_MODELS): its face analysis is InsightFace's
# antelopev2, whose weights are licensed for non-commercial research only.
INSTANT_ID = VersionSchema(
    model="zsxkib/instant-id",
    version="2e4785a4d80dadf580077b2244c8d7c05d8e3faac04a04c02d8e099dd2876789",
    official=False,
    input={
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": _URI,
            "pose_image": _URI,
            "prompt": {"type": "string", "default": "a person"},
            "negative_prompt": {"type": "string", "default": ""},
            "sdxl_weights": {"type": "string", "default": "stable-diffusion-xl-base-1.0",
                             "enum": _INSTANT_ID_WEIGHTS},
            "face_detection_input_width": {"type": "integer", "default": 640, "minimum": 640,
                                           "maximum": 4096},
            "face_detection_input_height": {"type": "integer", "default": 640, "minimum": 640,
                                            "maximum": 4096},
            "scheduler": {"type": "string", "default": "EulerDiscreteScheduler",
                          "enum": _INSTANT_ID_SCHEDULERS},
            "num_inference_steps": {"type": "integer", "default": 30, "minimum": 1,
                                    "maximum": 500},
            "guidance_scale": {"type": "number", "default": 7.5, "minimum": 1, "maximum": 50},
            "ip_adapter_scale": _unit(1.5, 0.8),
            "controlnet_conditioning_scale": _unit(1.5, 0.8),
            "enable_pose_controlnet": {"type": "boolean", "default": True},
            "pose_strength": _unit(1, 0.4),
            "enable_canny_controlnet": {"type": "boolean", "default": False},
            "canny_strength": _unit(1, 0.3),
            "enable_depth_controlnet": {"type": "boolean", "default": False},
            "depth_strength": _unit(1, 0.5),
            "enable_lcm": {"type": "boolean", "default": False},
            "lcm_num_inference_steps": {"type": "integer", "default": 5, "minimum": 1,
                                        "maximum": 10},
            "lcm_guidance_scale": {"type": "number", "default": 1.5, "minimum": 1,
                                   "maximum": 20},
            "enhance_nonface_region": {"type": "boolean", "default": True},
            "output_format": {"type": "string", "default": "webp",
                              "enum": ["webp", "jpg", "png"]},
            "output_quality": {"type": "integer", "default": 80, "minimum": 0, "maximum": 100},
            "seed": {"type": "integer"},
            "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 8},
            "disable_safety_checker": {"type": "boolean", "default": False},
        },
    },
    output_is_list=True,
    source="github.com/zsxkib/InstantID cog/predict.py (commit 37d5202)",
)

SCHEMAS: dict[str, VersionSchema] = {
    schema.version: schema for schema in (FLUX_KONTEXT_PRO, PHOTOMAKER, INSTANT_ID)}


def version_schema(version: str) -> VersionSchema | None:
    return SCHEMAS.get(version)
