"""The GPU backend: one consistent-batch job on a GPU worker: train the person's LoRA, generate.

``GpuBackend`` implements the backends' protocol (``generation.backends.protocol``); the
runner (``generation.runner``, called by ``generation.run_gpu_job``: queue ``gpu``, one job
per worker process, prefetch 1, ``acks_late``) stores each photo, applies the look's finish
and the result gates, and settles the job. Everything it does can be interrupted and redone without harm:

* training checkpoints every ``GPU_LORA_CHECKPOINT_EVERY`` steps to storage, and a restarted
  job resumes from the last checkpoint (``lora_train`` does);
* finished LoRA weights are kept in storage until the batch is generated, so a job killed
  while generating does not train again;
* each generated photo is stored at once and the seeds already stored are skipped, and
  candidates are unique per (job, seed), so nothing is made or kept twice;
* the weights are deleted once the batch is delivered (biometric-derived data).
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from core.storage import lora_folder, lora_weights_key

from ...deletion import lora_delete
from ...looks import LookSpec, prompt_with_instructions
from ...models import GenerationJob, Selfie
from ..protocol import (
    Keepalive,
    NoUsableInput,
    Output,
    SynchronousBackend,
)
from .inference import InferenceConfig, pipeline_prepare
from .lora import (
    TrainConfig,
    base_pipeline_load,
    identity_prompt,
    lora_generate,
    lora_train,
    training_images_prepare,
)
from .tiny import tiny_pipeline

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 2.0
NEGATIVE_PROMPT = ("blurry, distorted face, deformed, extra fingers, cartoon, painting, "
                   "watermark, text, low quality")


def pipeline_load(path: str, *, device: str | None = None):
    """The base pipeline at ``path`` (or ``tiny:sd`` / ``tiny:sdxl``), on CUDA when there is
    one (bf16 where supported, else float16), else float32 on the CPU."""
    import torch

    if path.startswith("tiny:"):
        return tiny_pipeline(path.split(":", 1)[1])
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return base_pipeline_load(path, device="cuda", dtype=dtype)
    return base_pipeline_load(path, device=device, dtype=torch.float32)


@functools.cache
def pipeline_for(path: str):
    """The base pipeline, loaded once per worker process (minutes for SDXL on first use),
    prepared for inference (fp32 VAE, optionally a compiled UNet)."""
    return pipeline_prepare(pipeline_load(path), InferenceConfig.from_settings())


def gpu_configured() -> bool:
    return bool(settings.GPU_BASE_MODEL_PATH)


def generation_size(aspect_ratio: str, long_side: int) -> tuple[int, int]:
    """The look's aspect ratio at ``long_side``, both sides multiples of 8 (the VAE's factor)."""
    w, h = (int(p) for p in aspect_ratio.split(":"))
    if w >= h:
        width, height = long_side, long_side * h / w
    else:
        width, height = long_side * w / h, long_side
    return int(round(width / 8) * 8), int(round(height / 8) * 8)


def _selfie_images(selfies: list[Selfie]) -> list[Image.Image]:
    images = []
    for selfie in selfies:
        with default_storage.open(selfie.image_key, "rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            image.load()
        images.append(image.convert("RGB"))
    return images


class _Reporter:
    """Writes training progress to the job (throttled) and keeps its lease alive."""

    def __init__(self, job: GenerationJob, keepalive: Keepalive) -> None:
        self.job, self.keepalive = job, keepalive
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS and step < total:
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed / max(step, 1) * (total - step)
        self.report(phase="training", step=step, total=total, loss=round(float(loss), 5),
                    eta_seconds=round(eta))

    def report(self, **progress) -> None:
        self.keepalive()  # raises JobStopped when the job was cancelled or taken over
        GenerationJob.objects.for_company(self.job.company_id).filter(pk=self.job.pk).update(
            progress={**progress, "at": timezone.now().isoformat()})


class GpuBackend(SynchronousBackend):
    """The in-house GPU worker: train (or resume) the person's LoRA, then generate the seeds
    not yet stored, yielding each photo at once (the runner stores, finishes and gates it)."""

    name = GenerationJob.Backend.GPU
    label = "The GPU backend"

    def unavailable(self) -> str:
        return "" if gpu_configured() else "This GPU worker has no base model configured."

    def submit(self, job: GenerationJob, *, selfies: list[Selfie], look: LookSpec,
               seeds: list[int], keepalive: Keepalive) -> Iterator[Output]:
        try:
            yield from self._run(job, selfies=selfies, look=look, seeds=seeds,
                                 keepalive=keepalive)
        except ValueError as exc:  # e.g. no usable face in the selfies: nothing to retry
            raise NoUsableInput(str(exc)) from exc

    def _run(self, job: GenerationJob, *, selfies: list[Selfie], look: LookSpec,
             seeds: list[int], keepalive: Keepalive) -> Iterator[Output]:
        config = TrainConfig.from_settings()
        pipeline = pipeline_for(settings.GPU_BASE_MODEL_PATH)
        reporter = _Reporter(job, keepalive)
        prefix = lora_folder(company_id=job.company_id, job_id=job.pk)
        weights_key = lora_weights_key(prefix)
        if not default_storage.exists(weights_key):
            images = training_images_prepare(_selfie_images(selfies),
                                             resolution=config.resolution)
            reporter.report(phase="training", step=0, total=config.steps, loss=None,
                            eta_seconds=None)
            result = lora_train(pipeline=pipeline, images=images, config=config,
                                checkpoint_prefix=prefix, progress=reporter)
            weights_key = result.weights_key
            log.info("job %s: LoRA trained in %.0f s (resumed from step %s)", job.pk,
                     result.seconds, result.resumed_from)
        width, height = generation_size(look.aspect_ratio, settings.GPU_GENERATION_SIZE)
        done = len(job.seeds) - len(seeds)
        reporter.report(phase="generating", step=done, total=len(job.seeds), loss=None,
                        eta_seconds=None)
        for seed, image in lora_generate(
                pipeline=pipeline, weights_key=weights_key,
                prompt=identity_prompt(prompt_with_instructions(look.prompt, job.instructions),
                                       config), negative_prompt=NEGATIVE_PROMPT,
                seeds=seeds, width=width, height=height,
                steps=settings.GPU_GENERATION_STEPS, config=InferenceConfig.from_settings()):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=1)
            yield Output(seed=seed, output_index=0, source_id=f"gpu:lora:{seed}",
                         data=buffer.getvalue())
            done += 1
            reporter.report(phase="generating", step=done, total=len(job.seeds), loss=None,
                            eta_seconds=None)

    def release(self, job: GenerationJob) -> None:
        """Delivered (or given up): the person's model goes, as the retention rules require.
        While the job asks for more seeds (queued again) the weights are still needed."""
        job.refresh_from_db()
        if job.status in (GenerationJob.Status.QUEUED, GenerationJob.Status.SCORING):
            return
        lora_weights_delete(job)


def lora_weights_delete(job: GenerationJob) -> None:
    """The person's model goes on delivery, with a deletion receipt like every deletion."""
    subject = (GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk)
               .values_list("membership__user_id", flat=True).first())
    lora_delete(company_id=job.company_id, job_id=job.pk, rule="retention.lora.on_delivery",
                subject_user_id=subject)
