"""Celery tasks: thin. Each takes ids, claims its work idempotently and hands it to the runner
(``generation.runner``), through which every backend's work goes."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core.retry import jittered
from core.rls import company_of, company_task, rls_bypass

# A module, not names: a test or a benchmark can stand in for parts of the runner.
from . import runner
from .backends.adapters import backend_for
from .backends.protocol import BackendFailed
from .jobs import job_claim, job_claim_scoring
from .models import GenerationJob, ReplicatePrediction
from .services.jobs import job_dead_letter
from .services.recovery import jobs_recover_stalled

log = logging.getLogger(__name__)
Status = GenerationJob.Status
UNKNOWN_PREDICTION_RETRIES = 5


def _job(job_id: int) -> GenerationJob | None:
    # Tasks are handed job ids by our own dispatcher; the job names its company.
    return GenerationJob.objects.unscoped().select_related("look_version", "company").filter(
        pk=job_id).first()


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
    if job.status in (Status.RUNNING, Status.SCORING) and job.lease_until is not None:
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
# --- The backends: every one through the runner -------------------------------------------


def _run(task, job_id: int) -> str:
    """Claim the job and run it on its backend through the runner (``generation.runner``)."""
    job = _job(job_id)
    if job is not None and job.status == Status.SCORING and job_claim_scoring(
            job, lease=_lease()):
        # Its worker died while scoring (the message handed out again, or the stalled-job
        # sweep): every photo is stored, so scoring is what is left.
        return runner.job_rescore(job)
    if not _claim_or_wait(task, job):
        return "not claimable"
    try:
        return runner.job_run(job)
    except runner.RetryLater as later:
        raise task.retry(countdown=later.countdown, exc=later.__cause__) from later


def _job_task(name: str, *, soft_time_limit: int, time_limit: int):
    """The task that runs one job on a backend: acknowledged late and handed out again if its
    worker dies, retried as long as the runner asks, inside the job's company (row-level
    security), and done quietly when the job was erased meanwhile."""

    in_the_jobs_company = company_task(
        lambda self, job_id, *args, **kwargs: company_of(GenerationJob, pk=job_id))
    as_task = shared_task(bind=True, name=name, acks_late=True, reject_on_worker_lost=True,
                          max_retries=None, soft_time_limit=soft_time_limit,
                          time_limit=time_limit)

    def decorate(body):
        return as_task(in_the_jobs_company(_noop_if_job_vanished(body)))

    return decorate


@_job_task("generation.run_offline_job", soft_time_limit=600, time_limit=660)
def run_offline_job(self, job_id: int) -> str:
    return _run(self, job_id)


@_job_task("generation.run_replicate_job", soft_time_limit=300, time_limit=330)
def run_replicate_job(self, job_id: int) -> str:
    """Create one prediction per seed that has none yet; results arrive by webhook or polling."""
    return _run(self, job_id)


# reject_on_worker_lost: a sync whose process was killed is handed out again at once (it is
# idempotent: outputs are stored once per seed and index), not left to the next poll.
@shared_task(bind=True, name="generation.sync_prediction", acks_late=True,
             reject_on_worker_lost=True, max_retries=8)
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
    try:
        # A prediction is Replicate's, whatever backend its job was handed to since.
        return runner.job_receive(row.job, external_id=prediction_id,
                                  backend=backend_for(GenerationJob.Backend.REPLICATE))
    except BackendFailed as exc:
        if exc.transient:
            raise self.retry(countdown=jittered(min(2 ** self.request.retries * 5, 300)),
                             exc=exc) from exc
        raise


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
    """Jobs whose worker died or whose message was lost: sent again at most once per lease,
    given up after a bound (generation/services/recovery.py)."""
    result = jobs_recover_stalled(limit=limit)
    if result.given_up:
        log.warning("stalled-job recovery gave up %s job(s)", result.given_up)
    return result.sent


# Training a personal model per person and generating a batch: hours at most. The broker's
# visibility timeout (CELERY_VISIBILITY_TIMEOUT, 6 h) is longer, so a live job is never
# redelivered while it runs.
GPU_SOFT_TIME_LIMIT = 3 * 60 * 60


@_job_task("generation.run_gpu_job", soft_time_limit=GPU_SOFT_TIME_LIMIT,
           time_limit=GPU_SOFT_TIME_LIMIT + 300)
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
    return _run(self, job_id)
