"""Consistent batches on GPU workers: ordering, estimates, progress, and jobs that kill workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import GenerationJob
from generation.tasks import run_gpu_job
from teams.models import Membership

from .faces import face_photos
from .factories import MembershipFactory, UserFactory
from .helpers import approved_look, db_fingerprint, selfie_for

pytestmark = pytest.mark.django_db
Status = GenerationJob.Status


def _selfies(membership, count: int) -> None:
    for photo in face_photos()[:count]:
        selfie_for(membership, data=photo)


def _url(tenant) -> str:
    return reverse("generation:batches", kwargs={"company_slug": tenant.company.slug})


def test_the_batch_page_says_who_is_ready_and_what_it_costs(tenant_a, settings):
    settings.GPU_LORA_STEPS = 200
    approved_look(tenant_a.company)
    _selfies(tenant_a.member, 4)
    other = MembershipFactory(company=tenant_a.company, team=tenant_a.team,
                              user=UserFactory(email="few@alpha.example", full_name="Few Photos"))
    _selfies(other, 1)
    page = tenant_a.client_for(tenant_a.admin).get(_url(tenant_a)).content.decode()
    assert "Few Photos: 1 of 4 usable selfies" in page
    assert "<strong>1</strong> person is included" in page
    # 200 steps x 0.52 s + 8 photos x 5.2 s + 20 s overhead = 165.6 s.
    assert "About <strong>2.8</strong> GPU-minutes each" in page
    assert "No GPU worker is running right now" in page
    assert "Order the batch for 1 person" in page


def test_members_and_outsiders_cannot_see_batches(tenant_a, tenant_b):
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    assert member.get(_url(tenant_a)).status_code == 403
    assert outsider.get(_url(tenant_a)).status_code == 404
    assert db_fingerprint() == before


def _running_gpu_job(tenant, *, kills: int) -> GenerationJob:
    version = approved_look(tenant.company)
    Membership.objects.for_company(tenant.company).filter(pk=tenant.member.pk).update(
        status=Membership.Status.GENERATING)
    return GenerationJob.objects.create(
        company=tenant.company, membership=tenant.member, kind=GenerationJob.Kind.CONSISTENT_BATCH,
        look_version=version, backend=GenerationJob.Backend.GPU, status=Status.RUNNING,
        seeds=[1, 2], attempts=kills + 1, kills=kills,
        lease_until=timezone.now() - timedelta(minutes=1))


def test_a_job_that_keeps_killing_its_worker_is_parked(tenant_a, settings):
    settings.GPU_MAX_KILLS = 3
    job = _running_gpu_job(tenant_a, kills=2)
    assert run_gpu_job.apply(args=[job.pk]).get() == "dead letter"
    job.refresh_from_db()
    assert (job.status, job.kills) == (Status.DEAD, 3)
    assert job.failure_reason == "Stopped after its worker died 3 times."
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.UPLOADED  # can be ordered again
    # Redelivered once more, it stays parked.
    assert run_gpu_job.apply(args=[job.pk]).get() == "not claimable"
    job.refresh_from_db()
    assert (job.status, job.kills) == (Status.DEAD, 3)


def test_a_dead_workers_job_is_counted_and_taken_over(tenant_a, settings):
    settings.GPU_BASE_MODEL_PATH = ""  # this worker has no model: it hands the job on
    job = _running_gpu_job(tenant_a, kills=0)
    assert run_gpu_job.apply(args=[job.pk]).get() == "rerouted"
    job.refresh_from_db()
    assert job.kills == 1
    assert job.backend == GenerationJob.Backend.OFFLINE
    assert job.backend_reason == "This GPU worker has no base model configured."


def test_training_progress_is_shown_to_the_admin(tenant_a):
    job = _running_gpu_job(tenant_a, kills=0)
    job.progress = {"phase": "training", "step": 120, "total": 600, "loss": 0.0831,
                    "eta_seconds": 96}
    job.save(update_fields=["progress"])
    page = tenant_a.client_for(tenant_a.admin).get(_url(tenant_a)).content.decode()
    assert "Training: step 120 of 600, loss 0.0831, about 96 s left" in page


@pytest.mark.slow
def test_a_batch_runs_through_the_gpu_worker_code_on_a_tiny_model(tenant_a, settings, tmp_path,
                                                                   django_capture_on_commit_callbacks):
    """The production path end to end on the CPU: crops, LoRA training with checkpoints,
    weights to storage, generation per seed, scoring, and the weights deleted afterwards."""
    pytest.importorskip("diffusers")
    from django.core.files.storage import default_storage

    from generation.routing import gpu_worker_heartbeat
    from generation.services.jobs import NO_LIKENESS_REASON, job_create

    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)}}}
    settings.GPU_BASE_MODEL_PATH = "tiny:sd"
    settings.GPU_LORA_STEPS, settings.GPU_LORA_CHECKPOINT_EVERY = 4, 2
    settings.GPU_LORA_RESOLUTION, settings.GPU_LORA_GRADIENT_CHECKPOINTING = 64, False
    settings.GPU_LORA_BATCH_SIZE = 1
    settings.GPU_GENERATION_SIZE, settings.GPU_GENERATION_STEPS = 64, 2
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "gpu": 2}
    settings.LIKENESS_MAX_REGENERATIONS = 0
    approved_look(tenant_a.company)
    _selfies(tenant_a.member, 4)
    gpu_worker_heartbeat(hostname="gpu-test")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(company=tenant_a.company, membership=tenant_a.member,
                         requested_by=tenant_a.member.user,
                         kind=GenerationJob.Kind.CONSISTENT_BATCH)
    job.refresh_from_db()
    assert job.backend == GenerationJob.Backend.GPU
    # A random tiny model draws no face: every photo is held back, and the job says so.
    assert (job.status, job.failure_reason) == (Status.FAILED, NO_LIKENESS_REASON)
    candidates = list(job.candidates.model.objects.for_company(tenant_a.company).filter(job=job))
    assert sorted(c.seed for c in candidates) == sorted(job.seeds)
    assert all((c.width, c.height) == (48, 64) and not c.visible for c in candidates)  # 4:5
    assert job.progress["phase"] == "generating" and job.progress["step"] == 2
    assert not default_storage.exists(f"lora/c{job.company_id}/j{job.pk}/lora.safetensors")
