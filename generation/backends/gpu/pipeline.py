"""The base model (SD or SDXL) a person's LoRA is trained on: loading it from a local folder,
and what training reads from its frozen parts once (the VAE's latents of the training
images, the text encoders' conditioning for the caption). torch and diffusers are imported
inside the functions, as in lora.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline


def base_pipeline_load(path: str, *, device: str, dtype: torch.dtype) -> DiffusionPipeline:
    """An SD or SDXL pipeline from a local diffusers folder. ``local_files_only``: a worker
    must never reach for the hub (no network, and the model must be the approved one)."""
    from diffusers import DiffusionPipeline

    if not Path(path).is_dir():
        raise FileNotFoundError(f"Base model folder {path!r} does not exist (GPU_BASE_MODEL_PATH).")
    pipeline = DiffusionPipeline.from_pretrained(path, local_files_only=True, **{_dtype_keyword(): dtype})
    if getattr(pipeline, "unet", None) is None or getattr(pipeline, "text_encoder", None) is None:
        raise ValueError(f"{path!r} holds a {type(pipeline).__name__}; an SD or SDXL pipeline "
                         "(UNet + CLIP text encoder) is needed.")
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def _dtype_keyword() -> str:
    """Recent diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older
    releases, which ``diffusers>=0.31`` allows, know only ``torch_dtype``."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _is_sdxl(pipeline: DiffusionPipeline) -> bool:
    return getattr(pipeline, "text_encoder_2", None) is not None


# --- What training reads once -------------------------------------------------------------


def _pixels(images: list[Image.Image], resolution: int) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1], the VAE's input range."""
    import numpy as np
    import torch

    arrays = []
    for image in images:
        if image.size != (resolution, resolution):
            image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
        arrays.append(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def latent_distribution(pipeline: DiffusionPipeline, images: list[Image.Image],
                         resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE posterior's mean and std per image, computed once: the VAE is frozen, so
    encoding every step would only cost time; a fresh sample is drawn from them each step."""
    import torch

    vae = pipeline.vae
    original_dtype = vae.dtype
    # SDXL's VAE overflows in float16 (``force_upcast``); bf16 and float32 are fine.
    upcast = original_dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    try:
        means, stds = [], []
        with torch.no_grad():
            for pixel in _pixels(images, resolution).split(1):
                dist = vae.encode(pixel.to(vae.device, vae.dtype)).latent_dist
                means.append(dist.mean.float())
                stds.append(dist.std.float())
    finally:
        if upcast:
            vae.to(original_dtype)
    return torch.cat(means), torch.cat(stds)


def text_condition(pipeline: DiffusionPipeline, prompt: str, resolution: int) -> dict[str, Any]:
    """The UNet's conditioning for the caption, computed once (the text encoders are frozen
    and the caption never changes). SDXL also needs the pooled embedding of its second
    encoder and the size/crop ``time_ids`` (full image, no crop, at the training size)."""
    import torch

    device = pipeline.device
    with torch.no_grad():
        encoded = pipeline.encode_prompt(prompt=prompt, device=device, num_images_per_prompt=1,
                                         do_classifier_free_guidance=False)
    embeds = encoded[0]
    if not _is_sdxl(pipeline):
        return {"encoder_hidden_states": embeds}
    pooled = encoded[2]
    r = resolution
    time_ids = torch.tensor([[r, r, 0, 0, r, r]], dtype=embeds.dtype, device=device)
    return {"encoder_hidden_states": embeds,
            "added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids}}


def batched(condition: dict[str, Any], batch_size: int) -> dict[str, Any]:
    def expand(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        return value.expand(batch_size, *value.shape[1:])

    return expand(condition)
