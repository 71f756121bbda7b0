"""Replicate's webhook: verify, de-duplicate, then let a task fetch the truth."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .backends.replicate_api import WebhookInvalid, webhook_verify
from .models import ReplicateWebhook
from .tasks import sync_prediction

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def replicate_webhook(request: HttpRequest) -> JsonResponse:
    """Safe to receive twice or out of order.

    A delivery seen before (same webhook-id) is acknowledged and dropped. The body
    is not trusted for state: the task re-fetches the prediction from Replicate,
    so a late "processing" after "succeeded" changes nothing.
    """
    try:
        payload = webhook_verify(headers=request.headers, body=request.body)
    except WebhookInvalid as error:
        log.warning("refused a Replicate webhook: %s", error.reason)
        return JsonResponse({"error": f"invalid webhook: {error.reason}"}, status=400)
    # webhook_verify checked both against the columns' lengths and character sets.
    prediction_id = payload["id"]
    status = payload.get("status")
    try:
        with transaction.atomic():
            ReplicateWebhook.objects.create(
                webhook_id=request.headers["webhook-id"], prediction_id=prediction_id,
                status=status[:20] if isinstance(status, str) else "")
    except IntegrityError:
        return JsonResponse({"ok": True, "duplicate": True})
    # robust: where tasks run in-process (eager mode) a failing task is logged and
    # left to polling, never turned into this delivery's answer.
    transaction.on_commit(lambda: sync_prediction.delay(prediction_id), robust=True)
    return JsonResponse({"ok": True})
