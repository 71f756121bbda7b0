"""What a consistent batch will cost in GPU time, told to the admin before ordering.

The per-step and per-image figures are measured by ``bench/gpu_lora.py`` on one H100
(see bench/README.md); other GPUs scale roughly with their bf16 throughput.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# Measured on one H100 (bench/gpu_lora.py, 2026-11-23): an SDXL LoRA training step at
# 1024 px, batch 4, no gradient checkpointing; one 1024 px image at 30 steps with guidance
# (batch 1, LoRA not merged).
SECONDS_PER_TRAINING_STEP = 0.52
SECONDS_PER_IMAGE_30_STEPS = 5.2
SECONDS_OVERHEAD_PER_PERSON = 20.0  # crops, latents and text embeddings, saving


@dataclass(frozen=True)
class BatchEstimate:
    people: int
    photos_per_person: int
    gpu_minutes_per_person: float
    gpu_minutes: float


def batch_estimate(*, people: int) -> BatchEstimate:
    seeds = settings.SEEDS_PER_JOB["gpu"]
    per_image = SECONDS_PER_IMAGE_30_STEPS * settings.GPU_GENERATION_STEPS / 30
    per_person = (settings.GPU_LORA_STEPS * SECONDS_PER_TRAINING_STEP + seeds * per_image
                  + SECONDS_OVERHEAD_PER_PERSON) / 60
    return BatchEstimate(people=people, photos_per_person=settings.KEEP_PER_JOB["gpu"],
                         gpu_minutes_per_person=round(per_person, 1),
                         gpu_minutes=round(per_person * people, 1))
