"""Outbound webhooks: a company's own systems hear about events as they happen.

Each event (core/events.py: delivery/subscriptions.py forwards them) is one JSON body,
POSTed to every active endpoint of the company that subscribed to its type, signed with that
endpoint's secret (signing.py)::

    Likeness-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

A delivery that does not get a 2xx answer is tried again with exponential backoff
(about 1 min, 5 min, 30 min, 2 h, 6 h, then every 6 h) for 24 hours, then given up
(sending.py). Every delivery is logged (``WebhookDelivery``) and an admin can re-send one.

Redirects are never followed. With ``DEBUG`` off, endpoints must be https and may not
point at loopback, private or link-local addresses (addresses.py: checked when the
endpoint is saved and again, against the address actually connected to, at every
delivery), unless ``WEBHOOK_ALLOW_PRIVATE_URLS`` is true.

Settings: ``WEBHOOK_TIMEOUT_SECONDS`` (default 10), ``WEBHOOK_ALLOW_PRIVATE_URLS``
(default False).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core.errors import NotAllowed, ServiceError
from core.events import HEADSHOT_APPROVED, JOB_FAILED, JOB_READY, MEMBER_JOINED
from teams.models import Company, Membership
from teams.services.companies import company_admin_required

from ..models import WebhookDelivery, WebhookEndpoint
from .addresses import webhook_url_clean
from .signing import webhook_signature, webhook_signature_verify
from .tasks import deliver_webhook

__all__ = ["webhook_signature", "webhook_signature_verify"]  # for receivers' convenience
log = logging.getLogger(__name__)

# --- Event types ------------------------------------------------------------------------

EVENT_MEMBER_JOINED = MEMBER_JOINED
EVENT_HEADSHOT_APPROVED = HEADSHOT_APPROVED
EVENT_JOB_FAILED = JOB_FAILED
EVENT_JOB_READY = JOB_READY
EVENT_TYPES: dict[str, str] = {
    EVENT_MEMBER_JOINED: "Someone joined the company",
    EVENT_HEADSHOT_APPROVED: "A headshot was approved",
    EVENT_JOB_READY: "Someone's headshots are ready to choose from",
    EVENT_JOB_FAILED: "A headshot job failed",
}

MAX_ENDPOINTS_PER_COMPANY = 10


# --- Endpoints ------------------------------------------------------------------------------


def _require_admin(company: Company, actor: Membership, obj: object = None) -> None:
    """The actor is one of the company's admins, and ``obj`` (if any) is the company's."""
    company_admin_required(actor=actor, company=company, to="manage webhooks")
    if obj is not None and obj.company_id != company.pk:
        raise NotAllowed(f"That {type(obj)._meta.verbose_name} belongs to another company.")


def _events_clean(events: list[str] | tuple[str, ...]) -> list[str]:
    chosen = set(events or ())
    unknown = chosen - set(EVENT_TYPES)
    if unknown:
        raise ServiceError(f"Unknown event type: {', '.join(sorted(unknown))}.")
    if not chosen:
        raise ServiceError("Choose at least one event.")
    return [event for event in EVENT_TYPES if event in chosen]


def webhook_endpoint_list(*, company: Company):
    return WebhookEndpoint.objects.for_company(company).order_by("pk")


def webhook_endpoint_get(*, company: Company, pk: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.for_company(company).filter(pk=pk).first()


def webhook_delivery_list(*, company: Company, endpoint: WebhookEndpoint):
    return WebhookDelivery.objects.for_company(company).filter(endpoint=endpoint).order_by(
        "-created_at", "-pk")


def webhook_delivery_get(*, company: Company, pk: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.for_company(company).select_related("endpoint").filter(
        pk=pk).first()


def webhook_endpoint_create(*, company: Company, actor: Membership, url: str,
                            events: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown to the admin once)."""
    _require_admin(company, actor)
    url = webhook_url_clean(url)
    events = _events_clean(events)
    if webhook_endpoint_list(company=company).count() >= MAX_ENDPOINTS_PER_COMPANY:
        raise ServiceError(f"A company can have {MAX_ENDPOINTS_PER_COMPANY} webhook endpoints "
                           "at most: delete one you no longer use first.")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(company=company, url=url, events=events,
                                              secret=secret, created_by=actor.user)
    log.info("webhook endpoint %s created for company %s", endpoint.pk, company.pk)
    return endpoint, secret


def webhook_endpoint_update(*, company: Company, actor: Membership, endpoint: WebhookEndpoint,
                            url: str | None = None, events: list[str] | None = None,
                            active: bool | None = None) -> WebhookEndpoint:
    """Change what is given; the secret stays (create a new endpoint to change it)."""
    _require_admin(company, actor, endpoint)
    fields: list[str] = []
    if url is not None:
        endpoint.url = webhook_url_clean(url)
        fields.append("url")
    if events is not None:
        endpoint.events = _events_clean(events)
        fields.append("events")
    if active is not None:
        endpoint.active = active
        fields.append("active")
    if fields:
        endpoint.save(update_fields=fields)
    return endpoint


def webhook_endpoint_delete(*, company: Company, actor: Membership,
                            endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its delivery log; deliveries not yet made are dropped."""
    _require_admin(company, actor, endpoint)
    WebhookEndpoint.objects.for_company(company).filter(pk=endpoint.pk).delete()
    log.info("webhook endpoint %s deleted from company %s", endpoint.pk, company.pk)


# --- Events and deliveries -------------------------------------------------------------------


def _queue_on_commit(delivery_ids: list[int]) -> None:
    def queue() -> None:
        for pk in delivery_ids:
            try:
                deliver_webhook.delay(pk)
            except BrokerError:
                # The sweep (teams.deliver_due_webhooks) picks it up once the broker is back.
                log.warning("webhook delivery %s not queued: broker unavailable", pk)

    transaction.on_commit(queue)


def webhook_event_emit(*, company: Company | int, event_type: str,
                       data: dict[str, Any]) -> list[WebhookDelivery]:
    """Record one delivery per active endpoint subscribed to ``event_type``; they are sent
    once the current transaction commits. ``data`` must be JSON-serialisable (dates and
    decimals are turned into strings); keep personal data in it to what receivers need.
    ``company``: the company, or its id (then read only if an endpoint wants the event)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [e for e in WebhookEndpoint.objects.for_company(company).filter(active=True)
                 if event_type in e.events]
    if not endpoints:
        return []
    if not isinstance(company, Company):
        company = Company.objects.get(pk=company)
    now = timezone.now()
    event_id = "evt_" + secrets.token_hex(12)
    payload = {
        "id": event_id, "type": event_type, "created": int(now.timestamp()),
        "company": company.slug, "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }
    with transaction.atomic():
        deliveries = [
            WebhookDelivery.objects.create(
                company=company, endpoint=endpoint, event_id=event_id, event_type=event_type,
                payload=payload, created_at=now, next_attempt_at=now)
            for endpoint in endpoints
        ]
    _queue_on_commit([d.pk for d in deliveries])
    return deliveries


def webhook_resend(*, company: Company, actor: Membership,
                   delivery: WebhookDelivery) -> WebhookDelivery:
    """A fresh delivery of the same event (same id and body) to the same endpoint."""
    _require_admin(company, actor, delivery)
    endpoint = webhook_endpoint_get(company=company, pk=delivery.endpoint_id)
    if endpoint is None:
        raise ServiceError("That endpoint was deleted.")
    if not endpoint.active:
        raise ServiceError("This endpoint is switched off: switch it on to re-send events to it.")
    fresh = WebhookDelivery.objects.create(
        company=company, endpoint=endpoint, event_id=delivery.event_id,
        event_type=delivery.event_type, payload=delivery.payload)
    _queue_on_commit([fresh.pk])
    log.info("webhook delivery %s re-sent as %s", delivery.pk, fresh.pk)
    return fresh
