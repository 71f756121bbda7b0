"""The offline and Replicate backends behind the one protocol (``protocol.py``), and the
registry that names each backend's implementation (the GPU one is ``gpu/worker.py``).

The backends' own modules (``offline``, ``replicate_api``) are looked up when a job runs,
not imported by name, so a test or a benchmark can stand in for a model
(``bench/scale.py`` does).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from core.retry import jittered

from ..looks import LookSpec, prompt_with_instructions
from ..models import GenerationJob, ReplicatePrediction, Selfie
from ..routing import replicate_failure_record, replicate_success_record
from ..services.replicate_create import prediction_for_seed
from . import offline, replicate_api
from .protocol import (
    BackendFailed,
    GenerationBackend,
    Keepalive,
    Output,
    Received,
    SynchronousBackend,
)

log = logging.getLogger(__name__)
Backend = GenerationJob.Backend
# Rate limits: wait in the task for Retry-After up to this long at a time, and in all.
RATE_LIMIT_INLINE_WAIT = 5.0
RATE_LIMIT_TASK_BUDGET = 60.0


def _open(key: str) -> Image.Image:
    with default_storage.open(key, "rb") as handle:
        image = Image.open(handle)
        image.load()
    return image


def _roomy_first(selfies: list[Selfie], *, framing: str) -> list[Selfie]:
    """The selfies that show enough below the chin for ``framing``, when there are any.

    The retouch can only crop what a photo has: from a photo that ends at the chin it makes
    a close head shot, which the gates hide. A person with a looser photo gets every seed
    from that one; a person with only tight photos still gets tries (and the upload page has
    told them to add a looser one)."""
    roomy = [s for s in selfies
             if framing not in (s.qa_metrics or {}).get("too_tight_for", [])]
    return roomy or selfies


class OfflineBackend(SynchronousBackend):
    """The studio retouch of the person's own selfie, on the CPU, one seed at a time."""

    name = Backend.OFFLINE
    label = "The offline backend"

    def submit(self, job: GenerationJob, *, selfies: list[Selfie], look: LookSpec,
               seeds: list[int], keepalive: Keepalive) -> Iterator[Output]:
        opened: dict[str, Image.Image] = {}  # each selfie decoded once per job, not per seed
        # ...and its face and edges found once (``finish_subject``): None, it has no face.
        subjects: dict[str, offline.Subject | None] = {}
        selfies = _roomy_first(selfies, framing=look.framing)
        for seed in seeds:
            index = job.seeds.index(seed)
            selfie = selfies[index % len(selfies)]
            if selfie.image_key not in opened:
                decoded = _open(selfie.image_key)
                opened[selfie.image_key] = (decoded if decoded.mode == "RGB"
                                            else decoded.convert("RGB"))
                try:
                    subjects[selfie.image_key] = offline.finish_subject(
                        opened[selfie.image_key])
                except offline.NoFaceForRetouch:
                    subjects[selfie.image_key] = None
            subject = subjects[selfie.image_key]
            if subject is None:
                continue
            try:
                # A redo's comment only where there is one (stand-ins take look and seed).
                # The same decoded selfie for every seed, not a copy each: the retouch only
                # reads it (``finish_apply`` takes its pixels into an array first).
                extra = {"instructions": job.instructions} if job.instructions else {}
                result = offline.studio_retouch(opened[selfie.image_key], look=look,
                                                seed=seed, subject=subject, **extra)
            except offline.NoFaceForRetouch:
                continue
            # Handed to the runner decoded, in memory (``Output.image``): no PNG round trip.
            yield Output(seed=seed, output_index=0, finished=True, data=b"",
                         image=result if result.mode == "RGB" else result.convert("RGB"),
                         source_id=f"offline:selfie-{selfie.pk}:seed-{seed}")


def _webhook_url() -> str | None:
    if not settings.REPLICATE_WEBHOOK_SECRET:
        return None  # without a secret we cannot verify deliveries: poll instead
    return settings.SITE_URL + reverse("replicate_webhook")


class ReplicateBackend:
    """One prediction per seed; results arrive by webhook or polling (``receive``)."""

    name = Backend.REPLICATE
    asynchronous = True

    def unavailable(self) -> str:
        return ""

    def submit(self, job: GenerationJob, *, selfies: list[Selfie], look: LookSpec,
               seeds: list[int], keepalive: Keepalive) -> Iterator[Output]:
        with default_storage.open(selfies[0].image_key, "rb") as handle:
            selfie_jpeg = handle.read()
        existing = set(ReplicatePrediction.objects.for_company(job.company_id).filter(job=job)
                       .values_list("seed", flat=True))
        # A redo's comment goes into the prompt of a model that reads one.
        spec = dataclasses.replace(
            look, prompt=prompt_with_instructions(look.prompt, job.instructions),
            instructions=job.instructions or "")
        waited = 0.0
        for seed in seeds:
            if seed in existing:
                continue
            while True:
                try:
                    # Recorded before it returns; adopted, not created again, after a crash
                    # (generation/services/replicate_create.py).
                    prediction_for_seed(job=job, seed=seed, selfie_jpeg=selfie_jpeg,
                                        spec=spec, webhook_url=_webhook_url())
                    break
                except replicate_api.RateLimited as exc:
                    # Short waits are taken here (also where tasks run in-process); a long
                    # Retry-After frees the worker and comes back later.
                    pause = jittered(max(exc.retry_after, 0.05))
                    if (pause <= RATE_LIMIT_INLINE_WAIT
                            and waited + pause <= RATE_LIMIT_TASK_BUDGET):
                        time.sleep(pause)
                        waited += pause
                        continue
                    raise BackendFailed(str(exc), transient=True, retry_after=pause) from exc
                except replicate_api.ReplicateError as exc:
                    if exc.transient:
                        replicate_failure_record()
                    raise BackendFailed(f"Replicate could not take the job: {exc}",
                                        transient=exc.transient) from exc
            replicate_success_record()
            keepalive()
        return
        yield  # a generator: outputs come through ``receive``

    def receive(self, job: GenerationJob, external_id: str) -> Received:
        try:
            prediction = replicate_api.prediction_get(external_id)
            outputs = []
            if prediction.status == "succeeded":
                row = self._row(job, external_id)
                for index, url in enumerate(prediction.output_urls):
                    outputs.append(Output(seed=row.seed, output_index=index,
                                          source_id=f"{external_id}:{index}",
                                          data=replicate_api.output_download(url)))
        except replicate_api.ReplicateError as exc:
            raise BackendFailed(str(exc), transient=exc.transient) from exc
        return Received(status=prediction.status,
                        terminal=prediction.status in replicate_api.TERMINAL_STATUSES,
                        outputs=outputs, error=prediction.error or "")

    def received(self, job: GenerationJob, external_id: str, result: Received) -> None:
        row = self._row(job, external_id)
        ReplicatePrediction.objects.for_company(job.company_id).filter(pk=row.pk).update(
            status=result.status or row.status, error=result.error[:2000],
            synced_at=timezone.now())

    def outstanding(self, job: GenerationJob) -> bool:
        rows = list(ReplicatePrediction.objects.for_company(job.company_id).filter(job=job))
        return len(rows) < len(job.seeds) or not all(r.is_terminal for r in rows)

    def failure_summary(self, job: GenerationJob) -> str:
        rows = ReplicatePrediction.objects.for_company(job.company_id).filter(job=job)
        errors = "; ".join(sorted({r.error for r in rows if r.error})) or "no output"
        return f"Replicate made no photos ({errors[:300]})."

    def cancel(self, job: GenerationJob) -> None:
        for prediction_id in job.external_ids.values():
            try:
                replicate_api.prediction_cancel(prediction_id)
            except replicate_api.ReplicateError:
                # Finished or unreachable: its late output is not kept (the job is cancelled).
                log.warning("could not cancel prediction %s", prediction_id)

    def release(self, job: GenerationJob) -> None:
        return None  # Replicate deletes its outputs after an hour; ours are copies

    @staticmethod
    def _row(job: GenerationJob, external_id: str) -> ReplicatePrediction:
        return ReplicatePrediction.objects.for_company(job.company_id).get(
            job=job, prediction_id=external_id)


def backend_for(name: str) -> GenerationBackend:
    """The implementation of the backend a job runs on."""
    if name == Backend.OFFLINE:
        return OfflineBackend()
    if name == Backend.REPLICATE:
        return ReplicateBackend()
    if name == Backend.GPU:
        from .gpu.worker import GpuBackend  # torch stays out of processes that never need it

        return GpuBackend()
    raise ValueError(f"Unknown backend {name!r}")
