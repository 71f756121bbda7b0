"""Generating a person's batch: the LoRA fused into the UNet, several images per step, the
VAE decoding in float32, and an optional compiled UNet whose compile cache survives restarts.

* **Fused LoRA**: with the adapter merged into the base weights, each step runs the plain
  UNet (no extra LoRA matmuls per projection). The pipeline is shared between people, so the
  exact base weights of the merged projections are kept aside and put back afterwards:
  unfusing alone (``w + d - d``) does not give ``w`` back in bf16/fp16, and the error would
  build up from person to person.
* **fp32 VAE decode**: the UNet's latents are decoded by the VAE in float32 (SDXL's VAE
  overflows in float16 and loses detail in bf16); the VAE is small, so it simply stays fp32.
* **Batching**: ``GPU_GENERATION_BATCH`` seeds per pipeline call, each with its own CPU
  generator, so an image depends on its seed alone, never on the batch it was made in.
* **torch.compile** (``GPU_COMPILE``): the UNet is compiled in place once per worker process;
  ``GPU_COMPILE_CACHE_DIR`` (on the models volume) keeps Inductor's and Triton's caches, so
  a restarted worker does not compile from scratch. Off by default: not measured on a GPU
  in this wave (bench/README.md).

torch and diffusers are imported inside the functions (see lora.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from .lora_state import DIFFUSERS_WEIGHT_NAME

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline


@dataclass(frozen=True)
class InferenceConfig:
    fuse_lora: bool = True
    vae_fp32: bool = True
    batch_size: int = 1  # images per pipeline call
    compile: bool = False
    compile_cache_dir: str = ""

    @classmethod
    def from_settings(cls) -> InferenceConfig:
        defaults = cls()
        return cls(
            fuse_lora=bool(getattr(settings, "GPU_FUSE_LORA", defaults.fuse_lora)),
            vae_fp32=bool(getattr(settings, "GPU_VAE_FP32", defaults.vae_fp32)),
            batch_size=max(1, int(getattr(settings, "GPU_GENERATION_BATCH", defaults.batch_size))),
            compile=bool(getattr(settings, "GPU_COMPILE", defaults.compile)),
            compile_cache_dir=str(getattr(settings, "GPU_COMPILE_CACHE_DIR",
                                          defaults.compile_cache_dir)),
        )


def compile_cache_configure(folder: str) -> None:
    """Inductor's FX-graph and autotuning caches and Triton's kernels under ``folder``."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    os.environ["TRITON_CACHE_DIR"] = str(root / "triton")
    os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
    os.environ["TORCHINDUCTOR_AUTOGRAD_CACHE"] = "1"


def pipeline_prepare(pipeline: DiffusionPipeline, config: InferenceConfig) -> DiffusionPipeline:
    """What is done once per worker process to a freshly loaded pipeline."""
    import torch

    if config.vae_fp32 and pipeline.vae.dtype != torch.float32:
        pipeline.vae.to(torch.float32)
    if config.compile:
        if config.compile_cache_dir:
            compile_cache_configure(config.compile_cache_dir)
        # In place (nn.Module.compile): the UNet keeps its class, so adapters still attach.
        pipeline.unet.compile()
    return pipeline


def vae_decode(pipeline: DiffusionPipeline, latents: torch.Tensor, *,
               fp32: bool = True) -> list[Image.Image]:
    """Latents → PIL images, the VAE upcast to float32 when ``fp32``."""
    import torch

    vae = pipeline.vae
    if fp32 and vae.dtype != torch.float32:
        vae.to(torch.float32)
    latents = latents.to(vae.device, vae.dtype)
    config = vae.config
    mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
    if mean is not None and std is not None:
        shape = (1, len(mean), 1, 1)
        mean_t = torch.tensor(mean).view(shape).to(latents)
        std_t = torch.tensor(std).view(shape).to(latents)
        latents = latents * std_t / config.scaling_factor + mean_t
    else:
        latents = latents / config.scaling_factor + float(getattr(config, "shift_factor", None)
                                                          or 0.0)
    with torch.no_grad():
        pixels = vae.decode(latents, return_dict=False)[0]
    return pipeline.image_processor.postprocess(pixels.detach(), output_type="pil")


@contextlib.contextmanager
def lora_fused(pipeline: DiffusionPipeline) -> Iterator[None]:
    """The loaded LoRA merged into the UNet for the block; the exact base weights back after."""
    unet = pipeline.unet
    saved: dict[str, Any] = {}
    for name, module in unet.named_modules():
        base = getattr(module, "base_layer", None)
        if base is not None and getattr(base, "weight", None) is not None:
            saved[name] = base.weight.detach().clone()
    pipeline.fuse_lora(components=["unet"], lora_scale=1.0)
    try:
        yield
    finally:
        pipeline.unfuse_lora(components=["unet"])
        modules = dict(unet.named_modules())
        for name, weight in saved.items():
            modules[name].base_layer.weight.data.copy_(weight)


def lora_generate(*, pipeline: DiffusionPipeline, weights_key: str, prompt: str,
                  negative_prompt: str, seeds: list[int], width: int, height: int,
                  steps: int = 30, guidance: float = 5.0, config: InferenceConfig | None = None
                  ) -> Iterator[tuple[int, Image.Image]]:
    """Load the person's LoRA from storage and yield ``(seed, image)`` per seed, as each batch
    is decoded (the caller stores each at once, so a killed job redoes only what is missing).

    Each seed has its own CPU ``torch.Generator``: the starting noise depends on the seed
    alone, not on the order, the batch or the device, which keeps a company's batches
    consistent. The LoRA is unfused and unloaded when the iteration ends, fails or is
    abandoned.
    """
    import torch

    config = config or InferenceConfig()
    with tempfile.TemporaryDirectory() as folder:
        with default_storage.open(weights_key, "rb") as handle:
            (Path(folder) / DIFFUSERS_WEIGHT_NAME).write_bytes(handle.read())
        pipeline.load_lora_weights(folder, weight_name=DIFFUSERS_WEIGHT_NAME)
    try:
        fused = lora_fused(pipeline) if config.fuse_lora else contextlib.nullcontext()
        with fused:
            for start in range(0, len(seeds), config.batch_size):
                batch = seeds[start:start + config.batch_size]
                generators = [torch.Generator("cpu").manual_seed(seed) for seed in batch]
                result = pipeline(
                    prompt=[prompt] * len(batch),
                    negative_prompt=[negative_prompt] * len(batch) if negative_prompt else None,
                    width=width, height=height, num_inference_steps=steps,
                    guidance_scale=guidance, generator=generators, output_type="latent")
                images = vae_decode(pipeline, result.images, fp32=config.vae_fp32)
                yield from zip(batch, images, strict=True)
    finally:
        pipeline.unload_lora_weights()
