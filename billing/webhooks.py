"""Stripe's webhook: verify on the raw body, store once, apply exactly once."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import stripe_api
from .stripe_events import stripe_event_process, stripe_event_record

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Safe to receive twice (at once or days apart) and out of order.

    A bad or stale signature is a 400 and stores nothing. A handler failure answers 500 so
    Stripe delivers again; nothing of the failed attempt was kept.
    """
    try:
        event = stripe_api.webhook_event(payload=request.body,
                                         signature=request.headers.get("Stripe-Signature", ""))
    except stripe_api.WebhookInvalid as error:
        log.warning("refused a Stripe webhook: %s", error.reason)
        return JsonResponse({"error": f"invalid webhook: {error.reason}"}, status=400)
    if not event.get("id") or not event.get("type"):
        return JsonResponse({"error": "the payload is not an event"}, status=400)
    stripe_event_record(event=event)
    try:
        status = stripe_event_process(event_id=event["id"])
    except Exception:  # noqa: BLE001  (logged; Stripe retries the delivery)
        log.exception("Stripe event %s failed", event["id"])
        return JsonResponse({"error": "could not process the event yet"}, status=500)
    return JsonResponse({"ok": True, "status": status})
