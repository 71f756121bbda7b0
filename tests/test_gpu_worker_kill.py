"""A real GPU worker (Celery on Redis, a tiny SD model on the CPU) killed mid-training.

The job's message was never acknowledged (acks_late), so another worker gets it, counts the
kill, resumes training from the last checkpoint instead of step 0, generates each seed once
and finishes; the person's LoRA weights are deleted after delivery.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from config.celery import app
from generation.models import Candidate, GenerationJob
from generation.routing import gpu_workers_available
from generation.services.jobs import job_create

from .conftest import redis_clear_ours
from .faces import face_photos
from .helpers import approved_look, selfie_for
from .workers import Worker, files_in, stop_all, wait_until, worker_env

pytest.importorskip("diffusers")
pytest.importorskip("peft")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_gpu_worker_killed_mid_training_resumes_from_its_checkpoint(tenant_a, settings,
                                                                      tmp_path):
    files_in(settings, tmp_path)
    approved_look(tenant_a.company)
    for photo in face_photos():
        selfie_for(tenant_a.member, data=photo)

    env = worker_env(
        tmp_path, HF_HUB_OFFLINE="1", GPU_BASE_MODEL_PATH="tiny:sd",
        GPU_LORA_STEPS="200",  # ~10 s on a quiet CPU: time to see progress and kill
        GPU_LORA_CHECKPOINT_EVERY="25", GPU_LORA_RESOLUTION="64", GPU_LORA_BATCH_SIZE="1",
        GPU_LORA_GRADIENT_CHECKPOINTING="false", GPU_GENERATION_SIZE="64",
        GPU_GENERATION_STEPS="2", GPU_SEEDS_PER_JOB="2",
        # A random tiny model draws no faces: keep what it made rather than regenerate.
        LIKENESS_MIN_SHOWN="0")
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "gpu": 2}
    redis_clear_ours()
    first = Worker("gpu-a", env, queue="gpu")
    second = None
    try:
        first.wait_ready()
        wait_until(gpu_workers_available, 30, "the GPU worker's heartbeat")
        app.conf.task_always_eager = False
        job = job_create(company=tenant_a.company, membership=tenant_a.member,
                         requested_by=tenant_a.member.user,
                         kind=GenerationJob.Kind.CONSISTENT_BATCH)
        assert job.backend == GenerationJob.Backend.GPU

        def training_step() -> int:
            job.refresh_from_db()
            return int(job.progress.get("step") or 0) if job.progress.get(
                "phase") == "training" else 0

        wait_until(lambda: training_step() >= 60, 240, "training to pass step 60",
              explain=lambda: "".join(first.lines[-30:]))
        first.kill()
        # Redis hands an unacknowledged message out again once its visibility timeout has
        # passed, and a starting worker looks for such messages once (then only every few
        # minutes): start the next worker after it.
        time.sleep(3.5)
        assert not (tmp_path / "lora" / f"c{job.company_id}" / f"j{job.pk}" /
                    "lora.safetensors").exists()

        second = Worker("gpu-b", env, queue="gpu")
        second.wait_ready()
        wait_until(lambda: GenerationJob.objects.for_company(tenant_a.company).get(pk=job.pk)
              .status == GenerationJob.Status.READY, 300, "the job to finish",
              explain=lambda: "".join(second.lines[-40:]))
        # The weights are deleted just after the job is marked ready.
        wait_until(lambda: not any(Path(tmp_path, "lora").rglob("*.safetensors")), 30,
              "the LoRA weights to be deleted")
    finally:
        app.conf.task_always_eager = True
        stop_all(first, second)

    job.refresh_from_db()
    assert job.kills == 1
    log = "".join(second.lines)
    resumed = int(re.search(r"resumed from step (\d+)", log)[1])
    assert resumed >= 50 and resumed % 25 == 0  # from its last checkpoint, not from scratch
    seeds = list(Candidate.objects.for_company(tenant_a.company).filter(job=job)
                 .values_list("seed", flat=True))
    assert sorted(seeds) == sorted(job.seeds)  # one per seed, none twice
    assert not any(Path(tmp_path, "lora").rglob("checkpoint.pt"))
