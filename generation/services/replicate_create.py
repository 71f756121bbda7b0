"""Creating a job's Replicate predictions at most once per seed, even when a worker dies.

A create is paid for the moment Replicate accepts it, and Replicate takes no idempotency
key. A worker that dies after Replicate answered but before the prediction was recorded
used to leave a paid prediction no one used, and its retry paid for another. So:

1. the intent is recorded on the job (``create_intents[seed]``: an attempt key and the time)
   and committed before the create is sent;
2. the prediction is recorded, and the intent cleared, in one transaction once it returns;
3. a retry that finds an intent still open looks at the predictions created since it
   (Replicate's list endpoint) and adopts the one with exactly this seed's input (the same
   selfie, prompt and seed) instead of creating another.

An input older than an hour is removed by Replicate; a retry that late cannot recognise its
prediction and creates a new one (logged). Outcomes we know made nothing (429, a refused
input) clear the intent, so the next try does not look.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.tasks import task_enqueue

from ..backends import replicate_api
from ..looks import LookSpec
from ..models import GenerationJob, ReplicatePrediction

log = logging.getLogger(__name__)
# Our clock and Replicate's may disagree by this much.
CLOCK_SKEW = timedelta(minutes=2)


def prediction_for_seed(*, job: GenerationJob, seed: int, selfie_jpeg: bytes, spec: LookSpec,
                        webhook_url: str | None) -> replicate_api.Prediction:
    """This seed's prediction, recorded: one an earlier attempt created, else a new one.

    Raises what ``replicate_api.prediction_create`` raises; the caller decides on retries.
    """
    model = settings.REPLICATE_MODEL
    inputs = replicate_api.prediction_inputs(model=model, selfie_jpeg=selfie_jpeg, look=spec,
                                             seed=seed)
    intent = job.create_intents.get(str(seed))
    if intent:
        earlier = _earlier_prediction(job, inputs=inputs, model=model, intent=intent)
        if earlier is not None:
            prediction_record(job, seed=seed, prediction=earlier)
            log.warning("job %s seed %s: adopted prediction %s from an interrupted attempt",
                        job.pk, seed, earlier.id)
            if earlier.status in replicate_api.TERMINAL_STATUSES:
                # Its webhooks came while it was unknown to us: fetch its result now.
                task_enqueue("generation.sync_prediction", earlier.id)
            return earlier
        log.warning("job %s seed %s: an earlier create left nothing we can find; creating",
                    job.pk, seed)
    _intent_set(job, seed, {"key": secrets.token_hex(8), "at": timezone.now().isoformat()})
    try:
        prediction = replicate_api.prediction_create(
            model=model, selfie_jpeg=selfie_jpeg, look=spec, seed=seed,
            webhook_url=webhook_url)
    except replicate_api.ReplicateError as exc:
        if isinstance(exc, replicate_api.RateLimited) or not exc.transient:
            _intent_set(job, seed, None)  # answered with a refusal: nothing was created
        raise
    prediction_record(job, seed=seed, prediction=prediction)
    return prediction


@transaction.atomic
def prediction_record(job: GenerationJob, *, seed: int,
                      prediction: replicate_api.Prediction) -> None:
    """Keep the prediction for this seed and close its intent, together."""
    locked = GenerationJob.objects.for_company(job.company_id).select_for_update().get(pk=job.pk)
    # A final status is written only by sync_prediction, after it stored the outputs: an
    # adopted prediction that already finished must not count as settled with no photo.
    status = ("processing" if prediction.status in replicate_api.TERMINAL_STATUSES
              else prediction.status)
    ReplicatePrediction.objects.create(
        company_id=job.company_id, job=locked, seed=seed, prediction_id=prediction.id,
        model=settings.REPLICATE_MODEL, status=status)
    intents = {k: v for k, v in locked.create_intents.items() if k != str(seed)}
    locked.external_ids = {**locked.external_ids, str(seed): prediction.id}
    locked.create_intents = intents
    locked.save(update_fields=["external_ids", "create_intents"])
    job.external_ids, job.create_intents = locked.external_ids, intents


@transaction.atomic
def _intent_set(job: GenerationJob, seed: int, intent: dict[str, str] | None) -> None:
    locked = GenerationJob.objects.for_company(job.company_id).select_for_update().get(pk=job.pk)
    intents = {k: v for k, v in locked.create_intents.items() if k != str(seed)}
    if intent is not None:
        intents[str(seed)] = intent
    locked.create_intents = intents
    locked.save(update_fields=["create_intents"])
    job.create_intents = intents


def _earlier_prediction(job: GenerationJob, *, inputs: dict[str, Any], model: str,
                        intent: dict[str, str]) -> replicate_api.Prediction | None:
    try:
        since = datetime.fromisoformat(intent["at"]) - CLOCK_SKEW
    except (KeyError, TypeError, ValueError):
        since = job.queued_at - CLOCK_SKEW
    model_name = model.split(":", 1)[0]
    matches = [listed.prediction for listed in replicate_api.predictions_since(since)
               if (not listed.model or listed.model == model_name)
               and all(listed.input.get(key) == value for key, value in inputs.items())]
    # Prediction ids are global at Replicate; one recorded already (for any job) is taken.
    taken = set(ReplicatePrediction.objects.unscoped().filter(
        prediction_id__in=[p.id for p in matches]).values_list("prediction_id", flat=True))
    free = [p for p in matches if p.id not in taken]
    if not free:
        return None
    free.sort(key=lambda p: p.created_at or "")
    for extra in free[1:]:
        # More than one interrupted create: keep the first, stop paying for the others.
        if extra.status not in replicate_api.TERMINAL_STATUSES:
            try:
                replicate_api.prediction_cancel(extra.id)
            except replicate_api.ReplicateError:
                log.warning("could not cancel duplicate prediction %s", extra.id)
    return free[0]
