"""The GPU path's speed and precision switches, checked on the CPU with the tiny model: the
LoRA fused for generation (base weights restored exactly), the VAE decoding in float32,
several images per pipeline call, torch.compile with a persistent cache, fused AdamW on CUDA,
and fp16 training through a loss scaler (bf16 without one). No GPU figures here: see
bench/README.md."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from generation.backends.gpu import lora, worker  # noqa: E402
from generation.backends.gpu.inference import (  # noqa: E402
    InferenceConfig,
    lora_generate,
    pipeline_prepare,
)
from generation.backends.gpu.lora import TrainConfig, lora_train  # noqa: E402
from generation.backends.gpu.tiny import tiny_pipeline  # noqa: E402

from .tiny_lora import PX, TINY_TRAINING  # noqa: E402
from .workers import files_in  # noqa: E402

pytestmark = pytest.mark.slow
CONFIG = TINY_TRAINING


@pytest.fixture
def storage(settings, tmp_path):
    files_in(settings, tmp_path / "media")


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (PX, PX, 3), dtype=np.uint8)) for _ in range(2)]


@pytest.fixture
def weights_key(storage) -> str:
    return lora_train(pipeline=tiny_pipeline("sd"), images=_images(), config=CONFIG,
                      checkpoint_prefix="lora/test").weights_key


def _generate(pipeline, key: str, seeds: list[int], **config) -> list[np.ndarray]:
    return [np.asarray(image, dtype=np.int16) for _, image in lora_generate(
        pipeline=pipeline, weights_key=key, prompt="photo of ohwx person", negative_prompt="",
        seeds=seeds, width=PX, height=PX, steps=2, config=InferenceConfig(**config))]


def _merged(unet) -> bool:
    return any(getattr(module, "merged", False) for module in unet.modules())


def test_the_lora_is_fused_while_generating_and_the_base_weights_come_back_exactly(weights_key):
    # bf16: where unfusing alone would not give the weights back.
    pipeline = tiny_pipeline("sd").to(torch.bfloat16)
    before = {k: v.clone() for k, v in pipeline.unet.state_dict().items()}
    running = lora_generate(pipeline=pipeline, weights_key=weights_key, prompt="photo",
                            negative_prompt="", seeds=[1, 2], width=PX, height=PX, steps=2)
    next(running)
    assert _merged(pipeline.unet)  # generating with the plain (merged) UNet
    list(running)
    after = pipeline.unet.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fused_and_unfused_generation_agree(weights_key):
    pipeline = tiny_pipeline("sd")
    fused = _generate(pipeline, weights_key, [5], fuse_lora=True)[0]
    plain = _generate(pipeline, weights_key, [5], fuse_lora=False)[0]
    assert np.abs(fused - plain).max() <= 2


def test_the_vae_decodes_in_float32_even_for_a_bf16_pipeline(weights_key, monkeypatch):
    pipeline = tiny_pipeline("sd").to(torch.bfloat16)
    seen: list[torch.dtype] = []
    decode = pipeline.vae.decode

    def spy(latents, *args, **kwargs):
        seen.append(latents.dtype)
        return decode(latents, *args, **kwargs)

    monkeypatch.setattr(pipeline.vae, "decode", spy)
    _generate(pipeline, weights_key, [3])
    assert seen == [torch.float32] and pipeline.vae.dtype == torch.float32
    assert pipeline.unet.dtype == torch.bfloat16  # only the VAE is upcast


def test_several_images_per_step_match_one_at_a_time(weights_key, monkeypatch):
    pipeline = tiny_pipeline("sd")
    batches: list[int] = []
    decode = pipeline.vae.decode

    def spy(latents, *args, **kwargs):
        batches.append(latents.shape[0])
        return decode(latents, *args, **kwargs)

    monkeypatch.setattr(pipeline.vae, "decode", spy)
    together = _generate(pipeline, weights_key, [11, 12, 13], batch_size=2)
    assert batches == [2, 1]
    alone = _generate(pipeline, weights_key, [11, 12, 13], batch_size=1)
    for a, b in zip(together, alone, strict=True):
        assert np.abs(a - b).max() <= 2  # each image from its own seed, whatever the batch


def test_compile_is_applied_with_a_persistent_cache(settings, tmp_path, monkeypatch):
    compiled: list[object] = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TORCHINDUCTOR_FX_GRAPH_CACHE",
                 "TORCHINDUCTOR_AUTOGRAD_CACHE"):
        monkeypatch.delenv(name, raising=False)
    settings.GPU_COMPILE, settings.GPU_COMPILE_CACHE_DIR = True, str(tmp_path / "cache")
    worker.pipeline_for.cache_clear()
    try:
        pipeline = worker.pipeline_for("tiny:sd")
    finally:
        worker.pipeline_for.cache_clear()
    assert compiled == [pipeline.unet]
    import os

    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == str(tmp_path / "cache" / "triton")
    assert os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] == "1"
    settings.GPU_COMPILE = False
    compiled.clear()
    pipeline_prepare(tiny_pipeline("sd"), InferenceConfig.from_settings())
    assert compiled == []


def test_inference_settings(settings):
    settings.GPU_FUSE_LORA, settings.GPU_VAE_FP32, settings.GPU_GENERATION_BATCH = False, False, 0
    settings.GPU_COMPILE, settings.GPU_COMPILE_CACHE_DIR = True, "/models/compile-cache"
    assert InferenceConfig.from_settings() == InferenceConfig(
        fuse_lora=False, vae_fp32=False, batch_size=1, compile=True,
        compile_cache_dir="/models/compile-cache")


def test_fused_adamw_on_cuda_only(settings):
    params = [torch.nn.Parameter(torch.zeros(4))]
    assert lora._optimizer(params, TrainConfig(), torch.device("cuda")).defaults["fused"] is True
    assert not lora._optimizer(params, TrainConfig(), torch.device("cpu")).defaults["fused"]
    off = TrainConfig(fused_adamw=False)
    assert not lora._optimizer(params, off, torch.device("cuda")).defaults["fused"]
    settings.GPU_FUSED_ADAMW, settings.GPU_LORA_MIXED_PRECISION = False, "fp16"
    assert (TrainConfig.from_settings().fused_adamw,
            TrainConfig.from_settings().mixed_precision) == (False, "fp16")


def test_fp16_needs_a_loss_scaler_and_bf16_does_not():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert lora._precision(cuda, TrainConfig(mixed_precision="fp16")) == (torch.float16, True)
    assert lora._precision(cuda, TrainConfig(mixed_precision="bf16")) == (torch.bfloat16, False)
    assert lora._precision(cuda, TrainConfig(mixed_precision="no")) == (None, False)
    assert lora._precision(cpu, TrainConfig(mixed_precision="fp16")) == (None, False)
    with pytest.raises(ValueError):
        lora._precision(cuda, TrainConfig(mixed_precision="fp8"))


@pytest.mark.parametrize("needs_scaler", [True, False])
def test_training_steps_through_the_scaler_only_when_needed(needs_scaler, storage, monkeypatch):
    steps: list[float] = []
    real_step = torch.amp.GradScaler.step

    def step(self, optimizer, *args, **kwargs):
        steps.append(self.get_scale())
        return real_step(self, optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.amp.GradScaler, "step", step)
    monkeypatch.setattr(lora, "_precision", lambda device, config: (None, needs_scaler))
    result = lora_train(pipeline=tiny_pipeline("sd"), images=_images(), config=CONFIG,
                        checkpoint_prefix="lora/scaled")
    assert len(steps) == (CONFIG.steps if needs_scaler else 0)
    assert np.isfinite(result.final_loss)


@pytest.mark.django_db
def test_generation_reads_its_switches_from_settings(settings, storage, monkeypatch):
    """The worker hands lora_generate the settings' switches (batch, fuse, fp32 VAE)."""
    seen: list[InferenceConfig] = []
    settings.GPU_GENERATION_BATCH, settings.GPU_FUSE_LORA = 3, False

    def generate(*, config, seeds, **_kwargs):
        seen.append(config)
        return iter(())

    monkeypatch.setattr(worker, "lora_generate", generate)
    monkeypatch.setattr(worker, "pipeline_for", lambda path: object())
    backend = worker.GpuBackend()

    class Job:
        pk, company_id, seeds, instructions = 1, 1, [1], ""

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from core.storage import lora_folder, lora_weights_key

    default_storage.save(lora_weights_key(lora_folder(company_id=1, job_id=1)), ContentFile(b"w"))
    settings.GPU_BASE_MODEL_PATH = "tiny:sd"

    class Look:
        aspect_ratio, prompt = "4:5", "studio headshot"

    list(backend._run(Job(), selfies=[], look=Look(), seeds=[1], keepalive=lambda: None))
    assert seen[0].batch_size == 3 and seen[0].fuse_lora is False and seen[0].vae_fp32
