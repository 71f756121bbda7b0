"""Per-person LoRA on an SD / SDXL base model: train on the selfies, then generate the batch.

Why a LoRA per person: the company's look (prompt, seeds, base model) is fixed, so what differs
between two people's batches is only their identity, which a small DreamBooth-style adapter on
the UNet's attention learns from a handful of selfies ("a photo of ohwx person"). Everything
that is written goes through Django's ``default_storage`` (local disk, S3), so a job killed on
one worker resumes from its last checkpoint on another.

The pipeline object is shared between jobs (loading SDXL takes minutes), so both
``lora_train`` and ``lora_generate`` leave its UNet as they found it: no adapter, eval mode,
no gradients, even when they fail or the caller stops early.

torch, diffusers and peft are imported inside the functions: this module imports without the
``gpu`` extra (settings checks, the web process). The base model is loaded and read by
pipeline.py, the training images are prepared in lora_images.py, and checkpoints and the
trained weights are stored by lora_state.py.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from core.storage import lora_checkpoint_key, lora_weights_key

from .inference import lora_generate
from .lora_images import training_images_prepare
from .lora_state import checkpoint_resume, checkpoint_save, weights_save
from .pipeline import base_pipeline_load, batched, latent_distribution, text_condition

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline

__all__ = ["LoraResult", "TrainConfig", "base_pipeline_load", "caption", "identity_prompt",
           "lora_generate", "lora_train", "training_images_prepare"]
log = logging.getLogger(__name__)

LORA_TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]
MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """How one person's LoRA is trained. Defaults aim at SDXL on one H100 (< 3 min)."""

    rank: int = 16
    alpha: int = 16
    # 200 steps of 4 (800 samples) train in ~105 s on one H100 (bench/README.md): at batch 1
    # the step is bound by Python queueing kernels, so a bigger batch costs almost nothing.
    steps: int = 200
    learning_rate: float = 1e-4
    resolution: int = 1024
    batch_size: int = 4
    checkpoint_every: int = 50
    # Doubles the step time; only for GPUs with much less memory than an H100 (12 GiB is
    # enough at batch 1 without it, 34 GiB at batch 4).
    gradient_checkpointing: bool = False
    use_8bit_adam: bool = False  # only if bitsandbytes imports; else torch AdamW
    # On CUDA: "auto" (bf16 where the GPU has it, else fp16), "bf16", "fp16" (with a loss
    # scaler) or "no"; the CPU always trains in float32.
    mixed_precision: str = "auto"
    fused_adamw: bool = True  # torch's fused AdamW kernel, on CUDA only
    identity_token: str = "ohwx"
    class_word: str = "person"
    seed: int = 0

    @classmethod
    def from_settings(cls) -> TrainConfig:
        """The ``GPU_LORA_*`` settings, with this class's defaults for any that are unset.

        ``alpha`` follows ``rank`` (scale 1), so that changing the rank does not silently
        change the effective learning rate.
        """
        defaults = cls()
        rank = int(getattr(settings, "GPU_LORA_RANK", defaults.rank))
        return cls(
            rank=rank,
            alpha=rank,
            steps=int(getattr(settings, "GPU_LORA_STEPS", defaults.steps)),
            learning_rate=float(getattr(settings, "GPU_LORA_LEARNING_RATE", defaults.learning_rate)),
            resolution=int(getattr(settings, "GPU_LORA_RESOLUTION", defaults.resolution)),
            batch_size=int(getattr(settings, "GPU_LORA_BATCH_SIZE", defaults.batch_size)),
            checkpoint_every=int(getattr(settings, "GPU_LORA_CHECKPOINT_EVERY", defaults.checkpoint_every)),
            gradient_checkpointing=bool(getattr(settings, "GPU_LORA_GRADIENT_CHECKPOINTING",
                                                defaults.gradient_checkpointing)),
            use_8bit_adam=bool(getattr(settings, "GPU_LORA_8BIT_ADAM", defaults.use_8bit_adam)),
            mixed_precision=str(getattr(settings, "GPU_LORA_MIXED_PRECISION",
                                        defaults.mixed_precision)),
            fused_adamw=bool(getattr(settings, "GPU_FUSED_ADAMW", defaults.fused_adamw)),
        )


@dataclass(frozen=True)
class LoraResult:
    weights_key: str  # storage key of the diffusers-format safetensors
    steps_run: int  # optimisation steps run by this call (not counting resumed ones)
    resumed_from: int  # the checkpoint's step this call started after; 0 when from scratch
    seconds: float
    final_loss: float | None  # loss of the last step run; None when no step ran


# --- Prompts -----------------------------------------------------------------------------------


def caption(config: TrainConfig) -> str:
    """The training caption: the rare identity token bound to the class word."""
    return f"a photo of {config.identity_token} {config.class_word}"


def identity_prompt(look_prompt: str, config: TrainConfig) -> str:
    """The look's prompt for one person: starts with the training caption's words, so the
    identity token comes first (CLIP truncates at 77 tokens, the look's tail goes first)."""
    look = look_prompt.strip().rstrip(",").strip()
    head = f"photo of {config.identity_token} {config.class_word}"
    return f"{head}, {look}" if look else head


# --- Training ----------------------------------------------------------------------------------


def _precision(device: torch.device, config: TrainConfig) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether the loss needs a scaler). bf16 has float32's range,
    so its gradients need no scaling; fp16 underflows small gradients without a scaler."""
    import torch

    if device.type != "cuda" or config.mixed_precision == "no":
        return None, False
    mode = config.mixed_precision
    if mode == "auto":
        mode = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp16"
    if mode == "bf16":
        return torch.bfloat16, False
    if mode == "fp16":
        return torch.float16, True
    raise ValueError(f"unknown mixed_precision {config.mixed_precision!r}")


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _grad_scaler(device: torch.device, needed: bool) -> torch.amp.GradScaler | None:
    import torch

    return torch.amp.GradScaler(device.type) if needed else None


def _adapter_add(unet: Any, config: TrainConfig) -> list[torch.nn.Parameter]:
    """LoRA on the attention projections; only its parameters train, in float32 even when
    the base weights are bf16 (bf16 updates of 1e-4 round away). Returns them in a fixed
    order, which the optimizer's saved state relies on."""
    import torch
    from peft import LoraConfig

    unet.requires_grad_(False)
    lora_config = LoraConfig(r=config.rank, lora_alpha=config.alpha, init_lora_weights="gaussian",
                             target_modules=LORA_TARGET_MODULES)
    # Seeded without touching the caller's RNG: the same seed gives the same initial LoRA.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        unet.add_adapter(lora_config)
    params = []
    for name, param in unet.named_parameters():
        if "lora_" in name:
            param.data = param.data.float()
            param.requires_grad_(True)
            params.append(param)
    if not params:
        raise RuntimeError("The LoRA adapter added no trainable parameters.")
    return params


def _adapter_remove(unet: Any) -> None:
    """Back to the plain base UNet (the pipeline is reused for the next person)."""
    if getattr(unet, "peft_config", None):
        unet.unload_lora()
    unet.requires_grad_(False)
    if getattr(unet, "is_gradient_checkpointing", False):
        unet.disable_gradient_checkpointing()
    unet.eval()


def _optimizer(params: list[torch.nn.Parameter], config: TrainConfig,
               device: torch.device) -> torch.optim.Optimizer:
    """AdamW; bitsandbytes' 8-bit AdamW when asked for and importable (saves ~3/4 of the
    optimizer memory, which matters only for large ranks); on CUDA torch's fused kernel (one
    launch for all the LoRA's tensors instead of several per tensor)."""
    import torch

    if config.use_8bit_adam:
        try:
            import bitsandbytes as bnb

            return bnb.optim.AdamW8bit(params, lr=config.learning_rate, weight_decay=1e-2)
        except ImportError:
            log.warning("GPU_LORA_8BIT_ADAM is set but bitsandbytes is not installed: using torch AdamW")
    fused = config.fused_adamw and device.type == "cuda"
    return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=1e-2,
                             fused=fused or None)


def _step_generator(config: TrainConfig, step: int) -> torch.Generator:
    """Randomness from (seed, step) alone: a resumed run draws what the uninterrupted run
    would have drawn, so a kill does not change the result."""
    import torch

    return torch.Generator("cpu").manual_seed(config.seed * 1_000_003 + step)


def _training_target(scheduler: Any, latents: torch.Tensor, noise: torch.Tensor,
                     timesteps: torch.Tensor) -> torch.Tensor:
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"unsupported prediction_type {prediction_type!r}")


def _train_step(*, unet: Any, scheduler: Any, means: torch.Tensor, stds: torch.Tensor,
                condition: dict[str, Any], latent_scale: tuple[float, float], config: TrainConfig,
                step: int) -> torch.Tensor:
    """One noise-prediction MSE loss (not yet backpropagated) on a random image and timestep."""
    import torch
    import torch.nn.functional as F

    generator = _step_generator(config, step)
    device = means.device
    picks = torch.randint(len(means), (config.batch_size,), generator=generator)
    sample = torch.randn(means[picks].shape, generator=generator).to(device)
    scaling, shift = latent_scale
    latents = (means[picks] + stds[picks] * sample - shift) * scaling
    noise = torch.randn(latents.shape, generator=generator).to(device)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (config.batch_size,),
                              generator=generator).to(device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    prediction = unet(noisy.to(unet.dtype), timesteps, **condition, return_dict=False)[0]
    target = _training_target(scheduler, latents, noise, timesteps)
    return F.mse_loss(prediction.float(), target.float())


def lora_train(*, pipeline: DiffusionPipeline, images: list[Image.Image], config: TrainConfig,
               checkpoint_prefix: str, progress: Callable[[int, int, float], None] | None = None
               ) -> LoraResult:
    """Train one person's LoRA on ``images`` (from ``training_images_prepare``) and store it at
    ``{checkpoint_prefix}/lora.safetensors``.

    Resumes after ``{checkpoint_prefix}/checkpoint.pt`` when it exists (a killed job), writes
    it every ``checkpoint_every`` steps, deletes it at the end. ``progress(step, total, loss)``
    is called after every step and may raise to stop (the checkpoint stays). The pipeline's
    UNet is returned to its plain state whatever happens.
    """
    import torch

    if not images:
        raise ValueError("lora_train needs at least one training image")
    if config.batch_size < 1 or config.steps < 0 or config.checkpoint_every < 1:
        raise ValueError(f"invalid TrainConfig {config}")
    started = time.monotonic()
    unet = pipeline.unet
    checkpoint_key = lora_checkpoint_key(checkpoint_prefix)
    weights_key = lora_weights_key(checkpoint_prefix)
    if getattr(unet, "peft_config", None):
        log.warning("the pipeline's UNet still had a LoRA adapter: removed before training")
        _adapter_remove(unet)
    means, stds = latent_distribution(pipeline, images, config.resolution)
    condition = batched(text_condition(pipeline, caption(config), config.resolution),
                         config.batch_size)
    vae_config = pipeline.vae.config
    latent_scale = (float(vae_config.scaling_factor), float(getattr(vae_config, "shift_factor", None) or 0.0))
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    loss_value: float | None = None
    try:
        params = _adapter_add(unet, config)
        optimizer = _optimizer(params, config, pipeline.device)
        autocast_dtype, needs_scaler = _precision(pipeline.device, config)
        scaler = _grad_scaler(pipeline.device, needs_scaler)
        resumed_from = checkpoint_resume(checkpoint_key, unet=unet, optimizer=optimizer, config=config)
        if config.gradient_checkpointing:
            unet.enable_gradient_checkpointing()
        unet.train()
        for step in range(resumed_from + 1, config.steps + 1):
            with _autocast(pipeline.device, autocast_dtype):
                loss = _train_step(unet=unet, scheduler=scheduler, means=means, stds=stds,
                                   condition=condition, latent_scale=latent_scale, config=config,
                                   step=step)
            if scaler is None:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
                optimizer.step()
            else:  # fp16: scaled loss, gradients unscaled before clipping, inf steps skipped
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
            optimizer.zero_grad(set_to_none=True)
            loss_value = float(loss.detach())
            if step % config.checkpoint_every == 0 and step < config.steps:
                checkpoint_save(checkpoint_key, step=step, unet=unet, optimizer=optimizer, config=config)
            if progress is not None:
                progress(step, config.steps, loss_value)
        weights_save(pipeline, weights_key)
        if default_storage.exists(checkpoint_key):
            default_storage.delete(checkpoint_key)
    finally:
        _adapter_remove(unet)
    return LoraResult(weights_key=weights_key, steps_run=max(0, config.steps - resumed_from),
                      resumed_from=resumed_from, seconds=time.monotonic() - started,
                      final_loss=loss_value)
