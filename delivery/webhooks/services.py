"""Outbound webhooks: a company's own systems hear about events as they happen.

Each event is one JSON body, POSTed to every active endpoint of the company that
subscribed to its type, signed with that endpoint's secret::

    Likeness-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

A delivery that does not get a 2xx answer is tried again with exponential backoff
(about 1 min, 5 min, 30 min, 2 h, 6 h, then every 6 h) for 24 hours, then given up.
Every delivery is logged (``WebhookDelivery``) and an admin can re-send one.

Redirects are never followed. With ``DEBUG`` off, endpoints must be https and may not
point at loopback, private or link-local addresses (checked when the endpoint is saved
and again, against the address actually connected to, at every delivery), unless
``WEBHOOK_ALLOW_PRIVATE_URLS`` is true.

Settings: ``WEBHOOK_TIMEOUT_SECONDS`` (default 10), ``WEBHOOK_ALLOW_PRIVATE_URLS``
(default False).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core.errors import NotAllowed, ServiceError
from teams.models import Company, Membership

from ..models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
Status = WebhookDelivery.Status

# --- Event types ------------------------------------------------------------------------

EVENT_MEMBER_JOINED = "member.joined"
EVENT_HEADSHOT_APPROVED = "headshot.approved"
EVENT_JOB_FAILED = "job.failed"
EVENT_JOB_READY = "job.ready"
EVENT_TYPES: dict[str, str] = {
    EVENT_MEMBER_JOINED: "Someone joined the company",
    EVENT_HEADSHOT_APPROVED: "A headshot was approved",
    EVENT_JOB_READY: "Someone's headshots are ready to choose from",
    EVENT_JOB_FAILED: "A headshot job failed",
}

# --- Delivery policy --------------------------------------------------------------------

RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)  # seconds; then every 6 h
RETRY_WINDOW = timedelta(hours=24)
# A claimed delivery whose worker died is handed out again after this long: longer than
# the deliver task's time limit (teams.integrations.tasks).
SENDING_LEASE = timedelta(minutes=5)
# A worker whose clock is a little behind the web server's may still claim a new delivery.
CLAIM_GRACE = timedelta(seconds=5)
MAX_ENDPOINTS_PER_COMPANY = 10
SIGNATURE_HEADER = "Likeness-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "Likeness-Webhooks/1.0"


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))


def _allow_private() -> bool:
    """Test and development installations may send to http:// and to their own network."""
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False)) or bool(settings.DEBUG)


# --- Signatures ---------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Likeness-Signature`` header for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def webhook_signature_verify(secret: str, header: str, body: bytes | str,
                             tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` (``Likeness-Signature``) signs ``body`` with ``secret``, recently.

    For receivers: this function needs only the standard library (hashlib, hmac, time),
    so it can be copied as it is. Pass the raw request body exactly as received, before
    any JSON parsing; ``tolerance`` is how old (or how far ahead) the timestamp may be, in
    seconds, so a captured request cannot be replayed later. Several ``v1=`` values may be
    present; one matching is enough.
    """
    if isinstance(body, str):
        body = body.encode()
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(expected, s.encode()) for s in signatures)


# --- Addresses (SSRF) ---------------------------------------------------------------------


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return _is_public(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _is_public(embedded):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def _public_addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to, or ServiceError if one of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ServiceError(f"We could not find the server “{host}”. Check the address.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or not all(_is_public(ip) for ip in addresses):
        raise ServiceError(
            f"“{host}” is a private, local or reserved network address: webhooks can only "
            "be sent to servers on the public internet."
        )
    return addresses


def webhook_url_clean(url: str) -> str:
    """The endpoint address, checked; ServiceError with a message for the admin if refused."""
    url = (url or "").strip()
    if not url:
        raise ServiceError("Enter the address that should receive the events.")
    if len(url) > 500:
        raise ServiceError("That address is too long: 500 characters at most.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ServiceError(f"“{url}” is not a valid web address.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ServiceError(
            "A webhook address must start with https:// (for example "
            "https://example.com/hooks/likeness); other kinds of address cannot receive events."
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ServiceError(f"“{url}” is not a valid web address.") from exc
    if parts.username is not None or parts.password is not None:
        raise ServiceError("Leave the user name and password out of the address: every "
                           "delivery is signed with the endpoint's secret instead.")
    if not _allow_private():
        if parts.scheme.lower() != "https":
            raise ServiceError("A webhook address must start with https://, so that events "
                               "are encrypted on their way.")
        _public_addresses(parts.hostname or "", port or 443)
    return url


@dataclass(frozen=True)
class _Target:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def _target(url: str) -> _Target:
    """Where to connect for ``url``. Outside test installations the name is resolved here,
    every address checked, and the connection pinned to a checked address (with the
    original Host and TLS server name), so a DNS answer that changes between the check
    and the connection cannot point the request at an internal service."""
    if _allow_private():
        return _Target(url)
    parsed = httpx.URL(url)
    if parsed.scheme != "https":
        raise ServiceError("Not sent: the address does not use https://.")
    host = parsed.raw_host.decode("ascii")
    addresses = _public_addresses(host, parsed.port or 443)
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return _Target(url)  # an address already: nothing to resolve differently later
    netloc = host if parsed.port is None else f"{host}:{parsed.port}"
    return _Target(str(parsed.copy_with(host=str(addresses[0]))), headers={"Host": netloc},
                   extensions={"sni_hostname": host})


# --- Endpoints ------------------------------------------------------------------------------


def _require_admin(company: Company, actor: Membership) -> None:
    if actor.company_id != company.pk or not actor.is_admin:
        raise NotAllowed("Only the company's admins can manage webhooks.")


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
    _require_admin(company, actor)
    if endpoint.company_id != company.pk:
        raise NotAllowed("That endpoint belongs to another company.")
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
    _require_admin(company, actor)
    if endpoint.company_id != company.pk:
        raise NotAllowed("That endpoint belongs to another company.")
    WebhookEndpoint.objects.for_company(company).filter(pk=endpoint.pk).delete()
    log.info("webhook endpoint %s deleted from company %s", endpoint.pk, company.pk)


# --- Events and deliveries -------------------------------------------------------------------


def _queue_on_commit(delivery_ids: list[int]) -> None:
    def queue() -> None:
        from .tasks import deliver_webhook

        for pk in delivery_ids:
            try:
                deliver_webhook.delay(pk)
            except BrokerError:
                # The sweep (teams.deliver_due_webhooks) picks it up once the broker is back.
                log.warning("webhook delivery %s not queued: broker unavailable", pk)

    transaction.on_commit(queue)


def webhook_event_emit(*, company: Company, event_type: str,
                       data: dict[str, Any]) -> list[WebhookDelivery]:
    """Record one delivery per active endpoint subscribed to ``event_type``; they are sent
    once the current transaction commits. ``data`` must be JSON-serialisable (dates and
    decimals are turned into strings); keep personal data in it to what receivers need."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [e for e in WebhookEndpoint.objects.for_company(company).filter(active=True)
                 if event_type in e.events]
    if not endpoints:
        return []
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
    _require_admin(company, actor)
    if delivery.company_id != company.pk:
        raise NotAllowed("That delivery belongs to another company.")
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
        target = _target(endpoint.url)
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
