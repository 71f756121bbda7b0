"""Every backend's work goes through the one runner: stored, finished to the look, gated.

The backends' model calls are stood in for (a real face photo on its own background, as a
generative model could deliver it); everything after them is the production path.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from generation import runner, scoring
from generation.backends import replicate_api
from generation.backends.adapters import ReplicateBackend, backend_for
from generation.backends.protocol import (
    BackendFailed,
    GenerationBackend,
    NoUsableInput,
    Output,
    Received,
)
from generation.looks import look_spec
from generation.models import Candidate, GenerationJob, JobSelfie, ReplicatePrediction
from generation.tasks import run_offline_job

from .faces import face_image, jpeg
from .helpers import approved_look, selfie_for

pytestmark = pytest.mark.django_db
Status = GenerationJob.Status
Backend = GenerationJob.Backend


@pytest.fixture
def files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def spies(monkeypatch):
    """Counts the runner's finish calls and the images the result gates see."""
    seen = {"finish": 0, "gated": 0}
    real_finish, real_gate = runner.finish_apply, scoring.candidates_gate

    def finish(*args, **kwargs):
        seen["finish"] += 1
        return real_finish(*args, **kwargs)

    def gate(images, **kwargs):
        seen["gated"] += len(images)
        return real_gate(images, **kwargs)

    monkeypatch.setattr(runner, "finish_apply", finish)
    monkeypatch.setattr(scoring, "candidates_gate", gate)
    return seen


def _job(tenant, backend: str, seeds: list[int]) -> GenerationJob:
    version = approved_look(tenant.company, preset="executive")
    selfie = selfie_for(tenant.member, data=jpeg(face_image("obama.jpg")))
    job = GenerationJob.objects.create(
        company=tenant.company, membership=tenant.member, look_version=version, backend=backend,
        kind=GenerationJob.Kind.SINGLE_SELFIE, status=Status.RUNNING, seeds=seeds, attempts=1,
        lease_until=timezone.now() + timedelta(minutes=5))
    JobSelfie.objects.create(company=tenant.company, job=job, selfie=selfie)
    return job


def _raw_output() -> Image.Image:
    """What a generative model might hand back: a face on its own background, unframed."""
    return face_image("obama.jpg").convert("RGB")


def _assert_finished_and_gated(job: GenerationJob, seen: dict, count: int) -> None:
    spec = look_spec(job.look_version)
    candidates = list(Candidate.objects.for_company(job.company_id).filter(job=job))
    assert len(candidates) == count
    assert seen["finish"] == count and seen["gated"] == count
    for candidate in candidates:
        # The look's framing (its output size) and backdrop (the top corners), not the
        # photo's own background: the finish was applied.
        assert (candidate.width, candidate.height) == spec.output_dimensions
        from django.core.files.storage import default_storage

        with default_storage.open(candidate.image_key, "rb") as handle:
            pixels = np.asarray(Image.open(handle).convert("RGB"), dtype=np.float64)
        corner = pixels[:24, :24].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - np.array(spec.backdrop_rgb)).max() < 14, (corner,
                                                                          spec.backdrop_rgb)
        # The result gates ran on it.
        assert candidate.scored_at is not None


def test_every_backend_implements_the_one_protocol():
    for name in Backend.values:
        backend = backend_for(name)
        assert isinstance(backend, GenerationBackend), name
        assert backend.name == name


def replicate_job_succeeded(tenant, monkeypatch) -> GenerationJob:
    """A Replicate job whose one prediction ("p-11", seed 11) has succeeded with a raw
    output, ready for ``runner.job_receive``."""
    job = _job(tenant, Backend.REPLICATE, seeds=[11])
    ReplicatePrediction.objects.create(company=tenant.company, job=job, seed=11,
                                       prediction_id="p-11", model="m/x", status="processing")
    buffer = io.BytesIO()
    _raw_output().save(buffer, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    monkeypatch.setattr(replicate_api, "prediction_get", lambda pid: replicate_api.Prediction(
        id=pid, status="succeeded", output_urls=[uri], error=None, created_at=None))
    return job


def test_replicate_output_is_finished_to_the_look_and_gated(tenant_a, files, spies, monkeypatch):
    job = replicate_job_succeeded(tenant_a, monkeypatch)
    assert runner.job_receive(job, external_id="p-11") == "succeeded"
    _assert_finished_and_gated(job, spies, 1)
    job.refresh_from_db()
    assert job.status in (Status.READY, Status.FAILED, Status.QUEUED)  # settled by scoring
    assert ReplicatePrediction.objects.for_company(job.company_id).get(
        prediction_id="p-11").status == "succeeded"


def test_gpu_output_is_finished_to_the_look_and_gated(tenant_a, files, spies, settings,
                                                      monkeypatch):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from generation.backends.gpu import worker
    from generation.backends.gpu.lora import LoraResult

    settings.GPU_BASE_MODEL_PATH = "tiny:sd"
    settings.LIKENESS_MAX_REGENERATIONS = 0
    job = _job(tenant_a, Backend.GPU, seeds=[3, 4])

    def train(*, checkpoint_prefix, **_kwargs):
        key = default_storage.save(f"{checkpoint_prefix}/lora.safetensors", ContentFile(b"w"))
        return LoraResult(weights_key=key, steps_run=1, resumed_from=0, seconds=0.0,
                          final_loss=0.1)

    def generate(*, seeds, **_kwargs) -> Iterator[tuple[int, Image.Image]]:
        for seed in seeds:
            yield seed, _raw_output()

    monkeypatch.setattr(worker, "pipeline_for", lambda path: object())
    monkeypatch.setattr(worker, "training_images_prepare", lambda images, resolution: images)
    monkeypatch.setattr(worker, "lora_train", train)
    monkeypatch.setattr(worker, "lora_generate", generate)
    runner.job_run(job)
    _assert_finished_and_gated(job, spies, 2)
    job.refresh_from_db()
    assert job.status != Status.RUNNING
    # Released after settling: the person's LoRA is gone.
    assert not default_storage.exists(f"lora/c{job.company_id}/j{job.pk}/lora.safetensors")


def test_offline_output_goes_through_the_runner_without_a_second_finish(tenant_a, files, spies):
    """The offline retouch *is* the finish: the runner stores and gates it, never refinishes."""
    job = _job(tenant_a, Backend.OFFLINE, seeds=[5])
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.QUEUED, lease_until=None)
    run_offline_job.apply(args=[job.pk]).get()
    assert spies == {"finish": 0, "gated": 1}
    assert Candidate.objects.for_company(job.company_id).filter(job=job).count() == 1


def test_offline_output_is_encoded_once_as_the_stored_jpeg(tenant_a, files, monkeypatch):
    """The offline backend hands its retouch over decoded: no PNG written for the runner to
    decode again, only the stored JPEG and its thumbnail (issue 19: the platform's time)."""
    job = _job(tenant_a, Backend.OFFLINE, seeds=[5, 6])
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.QUEUED, lease_until=None)
    formats: list[str] = []
    real_save = Image.Image.save

    def save(self, fp, format=None, **kwargs):  # noqa: A002 - Pillow's own argument name
        formats.append(str(format).upper())
        return real_save(self, fp, format=format, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    run_offline_job.apply(args=[job.pk]).get()
    assert Candidate.objects.for_company(job.company_id).filter(job=job).count() == 2
    assert "PNG" not in formats
    assert formats.count("JPEG") == 4  # per candidate: the image and its thumbnail


def test_candidate_store_takes_bytes_or_an_image_not_both(tenant_a, files):
    from generation.services.jobs import candidate_store

    job = _job(tenant_a, Backend.OFFLINE, seeds=[5])
    image = _raw_output()
    with pytest.raises(TypeError):
        candidate_store(job=job, seed=5, output_index=0, source_id="x")
    with pytest.raises(TypeError):
        candidate_store(job=job, seed=5, output_index=0, source_id="x", data=jpeg(image),
                        image=image)
    stored = candidate_store(job=job, seed=5, output_index=0, source_id="x", image=image)
    assert (stored.width, stored.height) == image.size


class _Scripted:
    """A backend that fails as told: the runner's fallback and retries, for any backend."""

    name = Backend.REPLICATE
    asynchronous = False

    def __init__(self, error: Exception) -> None:
        self.error = error

    def unavailable(self) -> str:
        return ""

    def submit(self, job, *, selfies, look, seeds, keepalive) -> Iterator[Output]:
        raise self.error
        yield  # pragma: no cover

    def receive(self, job, external_id) -> Received:
        raise NotImplementedError

    def received(self, job, external_id, result) -> None:
        return None

    def outstanding(self, job) -> bool:
        return False

    def failure_summary(self, job) -> str:
        return ""

    def cancel(self, job) -> None:
        return None

    def release(self, job) -> None:
        return None


def test_a_transient_failure_is_retried_on_the_same_backend(tenant_a):
    job = _job(tenant_a, Backend.REPLICATE, seeds=[1])
    with pytest.raises(runner.RetryLater):
        runner.job_run(job, backend=_Scripted(BackendFailed("busy", transient=True)))
    job.refresh_from_db()
    assert (job.status, job.backend) == (Status.RUNNING, Backend.REPLICATE)
    assert job.lease_until <= timezone.now()  # the retry may claim it at once


def test_a_rate_limit_is_retried_after_the_time_asked(tenant_a):
    job = _job(tenant_a, Backend.REPLICATE, seeds=[1])
    with pytest.raises(runner.RetryLater) as raised:
        runner.job_run(job, backend=_Scripted(BackendFailed("429", transient=True,
                                                            retry_after=7.5)))
    assert raised.value.countdown == 7.5


def test_a_lasting_failure_hands_the_job_to_the_fallback(tenant_a, settings,
                                                         django_capture_on_commit_callbacks):
    job = _job(tenant_a, Backend.REPLICATE, seeds=[1])
    settings.GENERATION_MAX_ATTEMPTS = 1
    assert runner.job_run(job, backend=_Scripted(BackendFailed("gone", transient=True))) \
        == "rerouted"
    job.refresh_from_db()
    assert (job.status, job.backend, job.backend_reason) == (Status.QUEUED, Backend.OFFLINE,
                                                             "gone")


def test_selfies_no_backend_can_use_fail_the_job(tenant_a):
    job = _job(tenant_a, Backend.GPU, seeds=[1])
    assert runner.job_run(job, backend=_Scripted(NoUsableInput("No face to train on."))) \
        == "failed"
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == (Status.FAILED, "No face to train on.")


def test_an_asynchronous_backend_that_made_nothing_hands_the_job_on(tenant_a, files,
                                                                    monkeypatch):
    job = _job(tenant_a, Backend.REPLICATE, seeds=[11])
    ReplicatePrediction.objects.create(company=tenant_a.company, job=job, seed=11,
                                       prediction_id="p-11", model="m/x", status="processing")
    monkeypatch.setattr(replicate_api, "prediction_get", lambda pid: replicate_api.Prediction(
        id=pid, status="failed", output_urls=[], error="NSFW", created_at=None))
    runner.job_receive(job, external_id="p-11", backend=ReplicateBackend())
    job.refresh_from_db()
    assert (job.status, job.backend) == (Status.QUEUED, Backend.OFFLINE)
    assert job.backend_reason == "Replicate made no photos (NSFW)."

