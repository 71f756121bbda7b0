"""Celery tasks: thin. Each takes ids, claims its work idempotently and calls services."""

from __future__ import annotations

import functools
import io
import logging
import time
from datetime import timedelta

from celery import current_app, shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from core.retry import jittered
from core.rls import company_of, company_task, rls_bypass

# Modules, not names: the backends' functions are looked up when a task runs, so a test or
# a benchmark can stand in for a model (bench/scale.py does).
from .backends import offline, replicate_api
from .backends.gpu.worker import JobStopped, gpu_configured, gpu_job_run
from .jobs import job_claim, job_lease_renew
from .looks import look_spec, prompt_with_instructions
from .models import Candidate, GenerationJob, ReplicatePrediction, Selfie
from .routing import QUEUES, TASKS, replicate_failure_record, replicate_success_record
from .services.jobs import (
    candidate_store,
    job_dead_letter,
    job_fail,
    job_finish,
    job_reroute,
)

log = logging.getLogger(__name__)
Status = GenerationJob.Status
# Rate limits: wait in the task for Retry-After up to this long at a time, and in all.
RATE_LIMIT_INLINE_WAIT = 5.0
RATE_LIMIT_TASK_BUDGET = 60.0
UNKNOWN_PREDICTION_RETRIES = 5


def _job(job_id: int) -> GenerationJob | None:
    # Tasks are handed job ids by our own dispatcher; the job names its company.
    return GenerationJob.objects.unscoped().select_related("look_version", "company").filter(
        pk=job_id).first()


def _selfies(job: GenerationJob) -> list[Selfie]:
    return list(job.selfies.for_company(job.company_id).filter(
        status=Selfie.Status.ACCEPTED).order_by("pk"))


def _lease() -> timedelta:
    return timedelta(seconds=settings.GENERATION_LEASE_SECONDS)


def _claim_or_wait(task, job: GenerationJob | None) -> bool:
    """Claim the job; if a live worker holds it, come back when its lease runs out.

    A redelivered message must not be dropped just because the dead worker's
    lease has not expired yet.
    """
    if job is None:
        return False
    if job_claim(job, lease=_lease()):
        return True
    if job.status == Status.RUNNING and job.lease_until is not None:
        remaining = (job.lease_until - timezone.now()).total_seconds()
        if not task.request.is_eager:
            raise task.retry(countdown=max(1.0, remaining + 1.0))
    return False


def _noop_if_job_vanished(task_body):
    """A job erased with its person (consent withdrawn, a leaver, a closed company) while a
    task or a late webhook was working on it: the task ends quietly, it never fails."""

    @functools.wraps(task_body)
    def wrapper(*args, **kwargs):
        try:
            return task_body(*args, **kwargs)
        except (GenerationJob.DoesNotExist, ReplicatePrediction.DoesNotExist):
            log.info("%s: the job is gone (erased meanwhile); nothing to do", task_body.__name__)
            return "job gone"

    return wrapper
# --- Offline backend ------------------------------------------------------------------


@shared_task(bind=True, name="generation.run_offline_job", acks_late=True,
             reject_on_worker_lost=True, max_retries=None, soft_time_limit=600, time_limit=660)
@company_task(lambda self, job_id, *args, **kwargs: company_of(GenerationJob, pk=job_id))
@_noop_if_job_vanished
def run_offline_job(self, job_id: int) -> str:
    job = _job(job_id)
    if not _claim_or_wait(self, job):
        return "not claimable"
    spec = look_spec(job.look_version)
    selfies = _selfies(job)
    if not selfies:
        job_fail(job, reason="The selfies for this job are gone.")
        return "no selfies"
    done = set(Candidate.objects.for_company(job.company_id).filter(job=job)
               .values_list("seed", flat=True))
    for index, seed in enumerate(job.seeds):
        if seed in done:
            continue  # made before a restart: never twice
        selfie = selfies[index % len(selfies)]
        with default_storage.open(selfie.image_key, "rb") as handle:
            image = Image.open(handle)
            image.load()
        try:
            # A redo's comment only where there is one (stand-ins take look and seed).
            extra = {"instructions": job.instructions} if job.instructions else {}
            result = offline.studio_retouch(image.convert("RGB"), look=spec, seed=seed,
                                            **extra)
        except offline.NoFaceForRetouch:
            continue
        buffer = io.BytesIO()
        # Lossless and only handed to candidate_store in memory: the fastest compression
        # (the default level spent ~0.25 s per 1024 px image, more than all the bookkeeping).
        result.save(buffer, format="PNG", compress_level=1)
        candidate_store(job=job, seed=seed, output_index=0,
                        source_id=f"offline:selfie-{selfie.pk}:seed-{seed}",
                        data=buffer.getvalue())
        if not job_lease_renew(job, lease=_lease()):
            return "cancelled"
    job.refresh_from_db()
    job_finish(job)
    return job.status


# --- Replicate backend -----------------------------------------------------------------


def _webhook_url() -> str | None:
    if not settings.REPLICATE_WEBHOOK_SECRET:
        return None  # without a secret we cannot verify deliveries: poll instead
    return settings.SITE_URL + reverse("replicate_webhook")


@shared_task(bind=True, name="generation.run_replicate_job", acks_late=True,
             reject_on_worker_lost=True, max_retries=None, soft_time_limit=300, time_limit=330)
@company_task(lambda self, job_id, *args, **kwargs: company_of(GenerationJob, pk=job_id))
@_noop_if_job_vanished
def run_replicate_job(self, job_id: int) -> str:
    """Create one prediction per seed that has none yet; results arrive by webhook or polling."""
    job = _job(job_id)
    if not _claim_or_wait(self, job):
        return "not claimable"
    selfies = _selfies(job)
    if not selfies:
        job_fail(job, reason="The selfies for this job are gone.")
        return "no selfies"
    with default_storage.open(selfies[0].image_key, "rb") as handle:
        selfie_jpeg = handle.read()
    spec = look_spec(job.look_version)
    existing = set(ReplicatePrediction.objects.for_company(job.company_id).filter(job=job)
                   .values_list("seed", flat=True))
    waited = 0.0
    for seed in job.seeds:
        if seed in existing:
            continue
        while True:
            try:
                prediction = replicate_api.prediction_create(
                    model=settings.REPLICATE_MODEL, selfie_jpeg=selfie_jpeg,
                    prompt=prompt_with_instructions(spec.prompt, job.instructions),
                    seed=seed, aspect_ratio=spec.aspect_ratio, webhook_url=_webhook_url())
                break
            except replicate_api.RateLimited as exc:
                # Short waits are taken here (also where tasks run in-process); a long
                # Retry-After frees the worker and comes back later.
                pause = jittered(max(exc.retry_after, 0.05))
                if pause <= RATE_LIMIT_INLINE_WAIT and waited + pause <= RATE_LIMIT_TASK_BUDGET:
                    time.sleep(pause)
                    waited += pause
                    continue
                _release(job)
                raise self.retry(countdown=pause, exc=exc) from exc
            except replicate_api.ReplicateError as exc:
                if exc.transient:
                    replicate_failure_record()
                    if job.attempts < settings.GENERATION_MAX_ATTEMPTS:
                        _release(job)
                        raise self.retry(countdown=jittered(min(2 ** job.attempts, 60)),
                                         exc=exc) from exc
                job_reroute(job, reason=f"Replicate could not take the job: {exc}")
                return "rerouted"
        replicate_success_record()
        _prediction_record(job, seed, prediction)
        job_lease_renew(job, lease=_lease())
    # All predictions exist: nothing to hold; webhooks and polling finish the job.
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk, status=Status.RUNNING
                                                             ).update(lease_until=None)
    return "waiting"


def _release(job: GenerationJob) -> None:
    """Let the retry of this task claim the job again at once."""
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk, status=Status.RUNNING
                                                             ).update(lease_until=timezone.now())


@transaction.atomic
def _prediction_record(job: GenerationJob, seed: int, prediction) -> None:
    locked = GenerationJob.objects.for_company(job.company_id).select_for_update().get(pk=job.pk)
    ReplicatePrediction.objects.create(
        company_id=job.company_id, job=locked, seed=seed, prediction_id=prediction.id,
        model=settings.REPLICATE_MODEL, status=prediction.status)
    locked.external_ids = {**locked.external_ids, str(seed): prediction.id}
    locked.save(update_fields=["external_ids"])


@shared_task(bind=True, name="generation.sync_prediction", acks_late=True, max_retries=8)
@company_task(lambda self, prediction_id, *args, **kwargs: company_of(
    ReplicatePrediction, prediction_id=prediction_id))
@_noop_if_job_vanished
def sync_prediction(self, prediction_id: str) -> str:
    """Bring one prediction up to date from Replicate itself (so webhook order never matters)."""
    # The id came from Replicate (a verified webhook or our own poll); the row names the company.
    row = ReplicatePrediction.objects.unscoped().select_related("job").filter(
        prediction_id=prediction_id).first()
    if row is None:
        # A webhook can outrun our record of the create (the worker writes the row
        # after Replicate answers); give the row a little time before giving up.
        # Run eagerly (embedded default, tests) the create is already recorded, so an unknown
        # id is one whose job was erased with its person: nothing to wait for.
        if self.request.retries < UNKNOWN_PREDICTION_RETRIES and not self.request.is_eager:
            raise self.retry(countdown=jittered(2.0))
        return "unknown prediction"
    job = row.job
    try:
        prediction = replicate_api.prediction_get(prediction_id)
    except replicate_api.ReplicateError as exc:
        if exc.transient:
            raise self.retry(countdown=jittered(min(2 ** self.request.retries * 5, 300)),
                             exc=exc) from exc
        raise
    if prediction.status == "succeeded" and job.status == Status.RUNNING:
        try:
            for index, url in enumerate(prediction.output_urls):
                data = replicate_api.output_download(url)
                candidate_store(job=job, seed=row.seed, output_index=index,
                                source_id=f"{prediction_id}:{index}", data=data)
        except replicate_api.ReplicateError as exc:
            raise self.retry(countdown=jittered(10), exc=exc) from exc
    ReplicatePrediction.objects.for_company(row.company_id).filter(pk=row.pk).update(
        status=prediction.status if prediction.status else row.status,
        error=(prediction.error or "")[:2000], synced_at=timezone.now())
    _job_settle(job)
    return prediction.status


def _job_settle(job: GenerationJob) -> None:
    """Finish a Replicate job once every prediction has a final answer."""
    job.refresh_from_db()
    if job.status != Status.RUNNING:
        return
    rows = list(ReplicatePrediction.objects.for_company(job.company_id).filter(job=job))
    if len(rows) < len(job.seeds) or not all(r.is_terminal for r in rows):
        return
    if Candidate.objects.for_company(job.company_id).filter(job=job).exists():
        job_finish(job)
        return
    errors = "; ".join(sorted({r.error for r in rows if r.error})) or "no output"
    job_reroute(job, reason=f"Replicate made no photos ({errors[:300]}).")


@shared_task(name="generation.poll_predictions")
@rls_bypass("maintenance: predictions of every company not heard of for a while")
def poll_predictions(limit: int = 200) -> int:
    """The fallback for webhooks that never arrive: ask about predictions we heard nothing of."""
    stale = timezone.now() - timedelta(seconds=settings.REPLICATE_POLL_AFTER_SECONDS)
    # A maintenance sweep over every company's predictions, by design.
    ids = list(ReplicatePrediction.objects.unscoped().exclude(
        status__in=ReplicatePrediction.TERMINAL).filter(synced_at__lt=stale)
        .order_by("synced_at").values_list("prediction_id", flat=True)[:limit])
    for prediction_id in ids:
        sync_prediction.delay(prediction_id)
    return len(ids)


@shared_task(name="generation.requeue_stalled_jobs")
@rls_bypass("maintenance: stalled jobs of every company")
def requeue_stalled_jobs(limit: int = 200) -> int:
    """Jobs whose worker died and whose message was lost: hand them out again."""
    now = timezone.now()
    # A maintenance sweep over every company's jobs, by design.
    stalled = GenerationJob.objects.unscoped().filter(
        status=Status.RUNNING, lease_until__lt=now).values_list("pk", "backend")[:limit]
    queued_long = GenerationJob.objects.unscoped().filter(
        status=Status.QUEUED, updated_at__lt=now - timedelta(minutes=10)
    ).values_list("pk", "backend")[:limit]
    count = 0
    for pk, backend in [*stalled, *queued_long]:
        current_app.tasks[TASKS[backend]].apply_async(args=[pk], queue=QUEUES[backend])
        count += 1
    return count


# Training a personal model per person and generating a batch: hours at most. The broker's
# visibility timeout (CELERY_VISIBILITY_TIMEOUT, 6 h) is longer, so a live job is never
# redelivered while it runs.
GPU_SOFT_TIME_LIMIT = 3 * 60 * 60


@shared_task(bind=True, name="generation.run_gpu_job", acks_late=True,
             reject_on_worker_lost=True, max_retries=None,
             soft_time_limit=GPU_SOFT_TIME_LIMIT, time_limit=GPU_SOFT_TIME_LIMIT + 300)
@company_task(lambda self, job_id, *args, **kwargs: company_of(GenerationJob, pk=job_id))
@_noop_if_job_vanished
def run_gpu_job(self, job_id: int) -> str:
    """A consistent batch for one person: train their LoRA (resuming a checkpoint), generate.

    A message redelivered after its worker died finds the job running with an expired lease:
    that is counted, and a job that has killed ``GPU_MAX_KILLS`` workers is parked (dead
    letter) instead of taking down every worker in turn.
    """
    job = _job(job_id)
    if job is None:
        return "no such job"
    if job.status == Status.RUNNING and job.lease_until and job.lease_until < timezone.now():
        GenerationJob.objects.for_company(job.company_id).filter(
            pk=job.pk, status=Status.RUNNING, lease_until=job.lease_until
        ).update(kills=F("kills") + 1)
        job.refresh_from_db()
        if job.kills >= settings.GPU_MAX_KILLS:
            job_dead_letter(job, reason=f"Stopped after its worker died {job.kills} times.")
            return "dead letter"
    if not _claim_or_wait(self, job):
        return "not claimable"
    if not gpu_configured():
        job_reroute(job, reason="This GPU worker has no base model configured.")
        return "rerouted"
    try:
        gpu_job_run(job, lease=_lease())
    except JobStopped:
        return "stopped"
    except ValueError as exc:  # e.g. no usable face in the selfies: nothing to retry
        job_fail(job, reason=str(exc))
        return "failed"
    job.refresh_from_db()
    return job.status
