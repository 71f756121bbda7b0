"""The GPU worker's LoRA path on tiny random SD / SDXL pipelines, on the CPU.

Train on real portraits (face crops), checkpoint, resume after a kill, save diffusers-format
safetensors through ``default_storage``, load them into a fresh pipeline and generate with
fixed seeds. Nothing is downloaded: the pipelines are built from configs in code.
"""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub reads it

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")
pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402

from generation.backends.gpu.lora import (  # noqa: E402
    TrainConfig,
    base_pipeline_load,
    caption,
    identity_prompt,
    lora_generate,
    lora_train,
    training_images_prepare,
)
from generation.backends.gpu.tiny import tiny_pipeline  # noqa: E402

from .faces import face_image  # noqa: E402
from .tiny_lora import PX, TINY_TRAINING  # noqa: E402
from .workers import files_in  # noqa: E402

pytestmark = pytest.mark.slow

CONFIG = replace(TINY_TRAINING, gradient_checkpointing=True)
PROMPT = identity_prompt("professional headshot, grey studio background", CONFIG)
NEGATIVE = "blurry, low quality"


@pytest.fixture(scope="module")
def training_images() -> list[Image.Image]:
    portraits = [face_image("obama.jpg"), face_image("obama2.jpg")]
    return training_images_prepare(portraits + [ImageOps.mirror(p) for p in portraits], resolution=PX)


@pytest.fixture
def storage(settings, tmp_path):
    files_in(settings, tmp_path / "media")
    return default_storage


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _generate(pipeline, weights_key: str, seeds: list[int]) -> list[tuple[int, Image.Image]]:
    return list(lora_generate(pipeline=pipeline, weights_key=weights_key, prompt=PROMPT,
                              negative_prompt=NEGATIVE, seeds=seeds, width=PX, height=PX, steps=2))


def _base_image(pipeline, seed: int) -> Image.Image:
    return pipeline(prompt=PROMPT, negative_prompt=NEGATIVE, width=PX, height=PX, num_inference_steps=2,
                    guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(seed)).images[0]


def _stored_lora(key: str) -> dict[str, torch.Tensor]:
    with default_storage.open(key, "rb") as handle:
        return safetensors_torch.load(handle.read())


def _assert_clean(pipeline) -> None:
    unet = pipeline.unet
    assert not getattr(unet, "peft_config", None)
    assert not any("lora" in name for name, _ in unet.named_parameters())
    assert not any(p.requires_grad for p in unet.parameters())
    assert not unet.training


def test_training_images_are_face_crops(training_images):
    assert len(training_images) == 4
    assert all(image.size == (PX, PX) and image.mode == "RGB" for image in training_images)
    blank = Image.new("RGB", (300, 300), (128, 128, 128))
    assert len(training_images_prepare([blank, face_image("obama.jpg")], resolution=32)) == 1
    with pytest.raises(ValueError, match="No face found"):
        training_images_prepare([blank], resolution=32)


def test_prompts():
    assert caption(CONFIG) == "a photo of ohwx person"
    assert identity_prompt("corporate headshot, ", CONFIG) == "photo of ohwx person, corporate headshot"


def test_config_from_settings(settings):
    settings.GPU_LORA_RANK = 8
    settings.GPU_LORA_STEPS = 50
    settings.GPU_LORA_LEARNING_RATE = 2e-4
    settings.GPU_LORA_RESOLUTION = 512
    settings.GPU_LORA_CHECKPOINT_EVERY = 10
    settings.GPU_LORA_GRADIENT_CHECKPOINTING = False
    settings.GPU_LORA_8BIT_ADAM = True
    settings.GPU_LORA_BATCH_SIZE = 2
    config = TrainConfig.from_settings()
    assert config.batch_size == 2
    assert (config.rank, config.alpha, config.steps, config.learning_rate, config.resolution,
            config.checkpoint_every, config.gradient_checkpointing, config.use_8bit_adam) == (
        8, 8, 50, 2e-4, 512, 10, False, True)
    assert (config.identity_token, config.class_word, config.mixed_precision) == ("ohwx", "person", "auto")


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_train_then_generate_with_a_fresh_pipeline(kind, storage, training_images):
    pipeline = tiny_pipeline(kind)
    calls: list[tuple[int, int, float]] = []
    result = lora_train(pipeline=pipeline, images=training_images, config=CONFIG,
                        checkpoint_prefix=f"lora/{kind}", progress=lambda *call: calls.append(call))

    assert (result.weights_key, result.steps_run, result.resumed_from) == (
        f"lora/{kind}/lora.safetensors", 3, 0)
    assert [(step, total) for step, total, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    assert result.final_loss == calls[-1][2] and np.isfinite(result.final_loss)
    assert not storage.exists(f"lora/{kind}/checkpoint.pt")
    weights = _stored_lora(result.weights_key)
    assert weights and all(key.startswith("unet.") and ".lora." in key for key in weights)
    assert any(key.endswith("to_out.0.lora.up.weight") for key in weights)
    _assert_clean(pipeline)  # ready for the next person

    fresh = tiny_pipeline(kind)
    images = _generate(fresh, result.weights_key, [11, 12, 11])
    assert [seed for seed, _ in images] == [11, 12, 11]
    assert all(image.size == (PX, PX) for _, image in images)
    first, other, again = (_pixels(image) for _, image in images)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    _assert_clean(fresh)  # the LoRA is unloaded after the last seed

    assert not np.array_equal(first, _pixels(_base_image(fresh, 11)))  # the LoRA changes the image
    # The training pipeline, cleaned, gives exactly what the fresh one gives.
    assert np.array_equal(first, _pixels(_generate(pipeline, result.weights_key, [11])[0][1]))


class Killed(Exception):
    pass


def _kill_at(step_to_die: int):
    def progress(step: int, total: int, loss: float) -> None:
        if step == step_to_die:
            raise Killed
    return progress


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_resume_after_kill_redoes_no_step(kind, storage, training_images):
    config = replace(TINY_TRAINING, steps=4)
    pipeline = tiny_pipeline(kind)
    with pytest.raises(Killed):
        lora_train(pipeline=pipeline, images=training_images, config=config, checkpoint_prefix="killed",
                   progress=_kill_at(3))
    _assert_clean(pipeline)
    assert storage.exists("killed/checkpoint.pt") and not storage.exists("killed/lora.safetensors")
    with storage.open("killed/checkpoint.pt", "rb") as handle:
        assert torch.load(handle, weights_only=True)["step"] == 2

    steps: list[int] = []
    result = lora_train(pipeline=tiny_pipeline(kind), images=training_images, config=config,
                        checkpoint_prefix="killed", progress=lambda step, total, loss: steps.append(step))
    assert (result.resumed_from, result.steps_run, steps) == (2, 2, [3, 4])
    assert storage.exists("killed/lora.safetensors") and not storage.exists("killed/checkpoint.pt")

    # Randomness depends on (seed, step) only: the resumed LoRA is the uninterrupted one.
    whole = lora_train(pipeline=pipeline, images=training_images, config=config, checkpoint_prefix="whole")
    resumed, uninterrupted = _stored_lora(result.weights_key), _stored_lora(whole.weights_key)
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.allclose(resumed[k], uninterrupted[k], atol=1e-6) for k in resumed)


def test_unusable_checkpoint_starts_over(storage, training_images):
    storage.save("broken/checkpoint.pt", ContentFile(b"not a checkpoint"))
    config = TrainConfig(rank=4, alpha=4, batch_size=1, steps=1, checkpoint_every=1, resolution=PX)
    result = lora_train(pipeline=tiny_pipeline("sd"), images=training_images, config=config,
                        checkpoint_prefix="broken")
    assert (result.resumed_from, result.steps_run) == (0, 1)
    assert storage.exists("broken/lora.safetensors") and not storage.exists("broken/checkpoint.pt")


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_base_pipeline_loads_from_a_local_folder_only(kind, tmp_path):
    tiny_pipeline(kind).save_pretrained(tmp_path / kind)
    pipeline = base_pipeline_load(str(tmp_path / kind), device="cpu", dtype=torch.float32)
    assert type(pipeline) is type(tiny_pipeline(kind))
    assert pipeline.unet.dtype == torch.float32 and pipeline.device.type == "cpu"
    assert _base_image(pipeline, 5).size == (PX, PX)
    with pytest.raises(FileNotFoundError, match="GPU_BASE_MODEL_PATH"):
        base_pipeline_load(str(tmp_path / "missing"), device="cpu", dtype=torch.float32)
