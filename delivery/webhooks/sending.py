"""Sending one webhook delivery: claimed once, POSTed once per attempt, retried with
backoff for a day (``webhook_deliver``), and the sweep's questions (what is due, which
claims were left by a dead worker). The tasks in delivery/webhooks/tasks.py call these."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core.errors import ServiceError

from ..models import WebhookDelivery, WebhookEndpoint
from .addresses import target_for
from .signing import SIGNATURE_HEADER, webhook_signature

log = logging.getLogger(__name__)
Status = WebhookDelivery.Status

RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)  # seconds; then every 6 h
RETRY_WINDOW = timedelta(hours=24)
# A claimed delivery whose worker died is handed out again after this long: longer than
# the deliver task's time limit (delivery/webhooks/tasks.py).
SENDING_LEASE = timedelta(minutes=5)
# A worker whose clock is a little behind the web server's may still claim a new delivery.
CLAIM_GRACE = timedelta(seconds=5)
USER_AGENT = "Likeness-Webhooks/1.0"


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))


def _body(payload: dict[str, Any]) -> bytes:
    # The stored JSON may come back with its keys reordered: put the envelope in order.
    envelope = {key: payload[key] for key in ("id", "type", "created", "company", "data")
                if key in payload}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def _retry_delay(attempts: int) -> timedelta:
    """After ``attempts`` failed attempts: about 1 min, 5 min, 30 min, 2 h, 6 h, 6 h, …"""
    base = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))


def _send(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the event once: (status code or None, error or "")."""
    body = _body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Likeness-Event-Id": delivery.event_id,
        "Likeness-Event-Type": delivery.event_type,
        SIGNATURE_HEADER: webhook_signature(endpoint.secret, int(time.time()), body),
    }
    timeout = _timeout()
    try:
        target = target_for(endpoint.url)
        # No proxies from the environment: the address checked is the address connected to.
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", target.url, content=body,
                                           headers={**headers, **target.headers},
                                           extensions=target.extensions)
            response = client.send(request, stream=True)
            response.close()  # the answer's body is not needed: never read it
    except ServiceError as exc:
        return None, str(exc)
    except httpx.TimeoutException:
        return None, f"No answer within {timeout:g} seconds."
    except httpx.HTTPError as exc:
        return None, f"Could not connect: {exc}" if str(exc) else "Could not connect."
    code = response.status_code
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return code, f"HTTP {code}: redirects are not followed; use the final address."
    return code, f"HTTP {code}"


def webhook_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery. Safe to call twice: only one caller claims it."""
    # Deliveries are handed out by id by our own emitter and sweep; the row names its company.
    delivery = WebhookDelivery.objects.unscoped().select_related("endpoint").filter(
        pk=delivery_id).first()
    if delivery is None:
        return "gone"
    company_id = delivery.company_id
    rows = WebhookDelivery.objects.for_company(company_id).filter(pk=delivery.pk)
    if not delivery.endpoint.active:
        rows.filter(status=Status.PENDING).update(
            status=Status.FAILED, last_error="Not sent: the endpoint was switched off.")
        return "endpoint off"
    now = timezone.now()
    claimed = rows.filter(status=Status.PENDING, next_attempt_at__lte=now + CLAIM_GRACE).update(
        status=Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + SENDING_LEASE)
    if not claimed:
        return "not claimable"
    delivery.refresh_from_db()
    code, error = _send(delivery.endpoint, delivery)
    now = timezone.now()
    result = {"last_status_code": code, "last_error": error[:500]}
    if not error:
        result.update(status=Status.SUCCEEDED, delivered_at=now)
    else:
        next_attempt = now + _retry_delay(delivery.attempts)
        if next_attempt > delivery.created_at + RETRY_WINDOW:
            result.update(status=Status.FAILED)
        else:
            result.update(status=Status.PENDING, next_attempt_at=next_attempt)
    # Only while our claim stands (the endpoint may have been deleted meanwhile).
    rows.filter(status=Status.SENDING).update(**result)
    if error:
        log.info("webhook delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts,
                 error)
    return str(result["status"])


def webhook_deliveries_release_stale() -> int:
    """Claims whose worker died mid-send: due again, or given up if their day is over."""
    now = timezone.now()
    # A maintenance sweep over every company's deliveries, by design.
    stale = WebhookDelivery.objects.unscoped().filter(status=Status.SENDING,
                                                      next_attempt_at__lte=now)
    error = "The worker stopped before the endpoint answered."
    given_up = stale.filter(created_at__lte=now - RETRY_WINDOW).update(
        status=Status.FAILED, last_error=error)
    released = stale.update(status=Status.PENDING, last_error=error, last_status_code=None)
    return given_up + released


def webhook_deliveries_due(*, after_pk: int = 0, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose next attempt is due, in id order after ``after_pk``."""
    # A maintenance sweep over every company's deliveries, by design.
    return list(WebhookDelivery.objects.unscoped().filter(
        status=Status.PENDING, next_attempt_at__lte=timezone.now(), pk__gt=after_pk,
    ).order_by("pk").values_list("pk", flat=True)[:limit])
