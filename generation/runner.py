"""The one runner every backend's work goes through.

A backend (``generation.backends.protocol``) only makes images. The runner, the same for
the offline, Replicate and GPU backends:

* hands the backend the seeds that have no stored photo yet (a redelivered task or a
  resumed job never makes one twice) and keeps the job's lease while it works;
* applies the look's finish (``generation.finish.finish_apply``: framing, matting, the
  backdrop) to every generative output, so a team matches whatever produced each photo;
  an output with no face to frame is kept as made, and the gates hide it with their reason;
* stores each photo at once (``candidate_store``);
* settles the job: scoring with the result gates (``job_finish`` → ``job_score``), then
  lets the backend drop what it kept for the job;
* on failure: a rate limit or a transient error is retried on the same backend
  (``RetryLater``, which the task turns into a Celery retry) up to
  ``GENERATION_MAX_ATTEMPTS``; anything else hands the job to the fallback backend
  (``job_reroute``); selfies no backend can use fail the job honestly.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from PIL import Image

from core.retry import jittered

from .backends.adapters import backend_for
from .backends.protocol import (
    BackendFailed,
    GenerationBackend,
    JobStopped,
    NoUsableInput,
    Output,
)
from .finish import NoFaceToFinish, finish_apply
from .job_photos import photos_kept
from .jobs import job_hold, job_lease_renew, job_refresh
from .looks import LookSpec, look_spec
from .models import Candidate, GenerationJob, Selfie
from .sample_portrait import sample_selfie
from .services.jobs import candidate_store, job_fail, job_finish, job_reroute

log = logging.getLogger(__name__)
Status = GenerationJob.Status


class RetryLater(Exception):
    """Come back in ``countdown`` seconds (the task asks Celery to)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.1f} s")
        self.countdown = countdown


def _lease() -> timedelta:
    return timedelta(seconds=settings.GENERATION_LEASE_SECONDS)


def _selfies(job: GenerationJob) -> list[Selfie]:
    if job.sample_portrait:
        return [sample_selfie(job)]
    return list(job.selfies.for_company(job.company_id).filter(
        status=Selfie.Status.ACCEPTED).order_by("pk"))


def output_finish(output: Output, *, look: LookSpec) -> Image.Image:
    """The output, decoded, with the look's finish applied (unless the backend's output
    already has it).

    A generative backend is asked for the look; the finish makes sure of the framing and the
    backdrop. No face to frame: the output is kept as made, so the gates record why it is
    hidden (never silently dropped). The image goes to ``candidate_store`` decoded: it is
    encoded once, as the stored JPEG."""
    if output.image is not None:
        image = output.image
    else:
        image = Image.open(io.BytesIO(output.data), formats=("PNG", "JPEG", "WEBP"))
        image.load()
    if image.mode != "RGB":  # converting an RGB image would only copy it
        image = image.convert("RGB")
    if output.finished:
        return image
    try:
        return finish_apply(image, look=look, seed=output.seed).image
    except NoFaceToFinish:
        log.info("%s: no face to finish; kept as made for the gates", output.source_id)
        return image


def output_deliver(job: GenerationJob, output: Output, *, look: LookSpec,
                   unseen: bool = False,
                   still_open: Callable[[], bool] | None = None) -> Candidate | None:
    """Finish and store one output. None when that (seed, output) is already stored or the
    job is cancelled. ``unseen``: the caller knows its seed has no stored photo (``job_run``
    hands the backend only those); ``still_open``: ``candidate_store``'s."""
    # A duplicated webhook or a redelivered task: not finished twice. An output that needs
    # no finish is left to ``candidate_store``'s own check; either way it is looked up once.
    if not unseen and not output.finished:
        if Candidate.objects.for_company(job.company_id).filter(
                job=job, seed=output.seed, output_index=output.output_index).exists():
            return None
        unseen = True
    return candidate_store(job=job, seed=output.seed, output_index=output.output_index,
                           source_id=output.source_id, image=output_finish(output, look=look),
                           unseen=unseen, still_open=still_open)


def _keepalive(job: GenerationJob):
    def renew() -> None:
        if not job_lease_renew(job, lease=_lease()):
            raise JobStopped(f"job {job.pk} is no longer held by this worker")

    return renew


def _deliver_held(job: GenerationJob, output: Output, *, look: LookSpec, unseen: bool,
                  keepalive: Callable[[], None]) -> None:
    """Store one output of a running job and keep the job's lease; JobStopped when the job
    is no longer running (cancelled, handed on, taken over).

    The store's check that the job is neither cancelled nor gone renews the lease in the
    same statement (``job_hold``): one round trip per photo, not a look-up before the INSERT
    and a renewal after it. What is kept is what was: a cancelled job's photo is not stored;
    a photo of a job moved on meanwhile (requeued, rerouted) is stored, then the run stops.
    The renewal now comes just before the photo's INSERT, not just after it: a job moved on
    in those few milliseconds is seen at the next photo's check (that photo, too, is then
    kept if the job was not cancelled: the next run skips the seeds stored). Nothing to
    store (the photo was stored already): the lease is renewed on its own."""
    held: list[str | None] = []

    def still_open() -> bool:
        held.append(job_hold(job, lease=_lease()))
        return held[0] is not None and held[0] != Status.CANCELLED

    output_deliver(job, output, look=look, unseen=unseen, still_open=still_open)
    if not held:
        keepalive()
    elif held[0] != Status.RUNNING:
        raise JobStopped(f"job {job.pk} is no longer held by this worker")


def job_run(job: GenerationJob, *, backend: GenerationBackend | None = None) -> str:
    """Run a claimed job on its backend. Returns what happened, in a word, for the task's log.

    Raises ``RetryLater`` when the same backend should be tried again later.
    """
    backend = backend or backend_for(job.backend)
    if reason := backend.unavailable():
        job_reroute(job, reason=reason)
        return "rerouted"
    selfies = _selfies(job)
    if not selfies:
        job_fail(job, reason="The selfies for this job are gone.")
        return "no selfies"
    look = look_spec(job.look_version)
    stored = set(Candidate.objects.for_company(job.company_id).filter(job=job)
                 .values_list("seed", flat=True))
    with photos_kept():  # what is stored here is scored here, from the bytes in hand
        return _outputs_settle(job, backend=backend, selfies=selfies, look=look,
                               seeds=[seed for seed in job.seeds if seed not in stored],
                               stored=stored)


def _outputs_settle(job: GenerationJob, *, backend: GenerationBackend, selfies: list[Selfie],
                    look: LookSpec, seeds: list[int], stored: set[int]) -> str:
    keepalive = _keepalive(job)
    renewed = False  # the last thing done: the lease renewed, so the job was still running
    try:
        for output in backend.submit(job, selfies=selfies, look=look, seeds=seeds,
                                     keepalive=keepalive):
            _deliver_held(job, output, look=look, unseen=output.seed not in stored,
                          keepalive=keepalive)
            renewed = True
    except JobStopped:
        return "stopped"
    except NoUsableInput as exc:
        job_fail(job, reason=str(exc))
        return "failed"
    except BackendFailed as exc:
        return _failed(job, exc)
    if backend.asynchronous:
        # All the work is handed out: nothing to hold; ``receive`` settles the job.
        GenerationJob.objects.for_company(job.company_id).filter(
            pk=job.pk, status=Status.RUNNING).update(lease_until=None)
        return "waiting"
    return job_settle(job, backend=backend, running=renewed)


def _failed(job: GenerationJob, exc: BackendFailed) -> str:
    if exc.retry_after is not None:
        _release(job)
        raise RetryLater(exc.retry_after) from exc
    if exc.transient and job.attempts < settings.GENERATION_MAX_ATTEMPTS:
        _release(job)
        raise RetryLater(jittered(min(2 ** job.attempts, 60))) from exc
    job_reroute(job, reason=str(exc))
    return "rerouted"


def _release(job: GenerationJob) -> None:
    """Let the retry claim the job again at once."""
    GenerationJob.objects.for_company(job.company_id).filter(
        pk=job.pk, status=Status.RUNNING).update(lease_until=timezone.now())


def job_receive(job: GenerationJob, *, external_id: str,
                backend: GenerationBackend | None = None) -> str:
    """What an asynchronous backend has for one of the job's external ids (a webhook said
    so, or a poll asks): its outputs are finished and stored, then the job is settled once
    the backend owes nothing more. Raises ``BackendFailed`` (transient: retry the receive)."""
    backend = backend or backend_for(job.backend)
    result = backend.receive(job, external_id)
    with photos_kept():  # what is stored here is scored here, from the bytes in hand
        if result.outputs and job.status == Status.RUNNING:
            look = look_spec(job.look_version)
            for output in result.outputs:
                output_deliver(job, output, look=look)
        backend.received(job, external_id, result)
        job_settle(job, backend=backend)
    return result.status


def job_rescore(job: GenerationJob, *, backend: GenerationBackend | None = None) -> str:
    """Score a job claimed back in scoring (``job_claim_scoring``) and finish it."""
    backend = backend or backend_for(job.backend)
    job_finish(job)
    backend.release(job)
    # Every move job_finish made left the job as the row now stands (job_transition):
    # not read again for the word this returns.
    return job.status


def job_settle(job: GenerationJob, *, backend: GenerationBackend | None = None,
               running: bool = False) -> str:
    """All outputs are in: score them through the gates and finish; nothing made by an
    asynchronous backend → the fallback backend. ``running``: the caller has just renewed
    the job's lease, so it is not read again first (``job_finish`` moves it on with a
    conditional UPDATE, and re-reads it then)."""
    backend = backend or backend_for(job.backend)
    if not running:
        job_refresh(job)
    if job.status != Status.RUNNING:
        return job.status
    if backend.outstanding(job):
        return "waiting"
    if backend.asynchronous and not Candidate.objects.for_company(job.company_id).filter(
            job=job).exists():
        job_reroute(job, reason=backend.failure_summary(job))
        return "rerouted"
    job_finish(job)
    backend.release(job)
    # Every move job_finish made left the job as the row now stands (job_transition):
    # not read again for the word this returns.
    return job.status
