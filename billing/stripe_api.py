"""Everything that talks to Stripe, through the official ``stripe`` library.

Explicit timeouts; every create carries an idempotency key derived from what it creates (so
a retried request can never buy, bill or open anything twice); webhook signatures verified
on the raw body with a timestamp tolerance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings


class StripeError(Exception):
    """Stripe refused or could not be reached; the message is safe to show an admin."""


class WebhookInvalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Session:
    id: str
    url: str
    status: str
    payment_status: str
    amount_total: int
    currency: str
    customer: str


@functools.cache
def _client_for(key: str, base: str, timeout: float) -> stripe.StripeClient:
    # Network retries are safe: every create below carries its own idempotency key.
    return stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=2,
                               http_client=stripe.RequestsClient(timeout=timeout))


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise StripeError("Payments are not set up on this installation.")
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE,
                       float(settings.STRIPE_TIMEOUT_SECONDS))


def _call(func, *args: Any, **kwargs: Any):
    try:
        return func(*args, **kwargs)
    except stripe.StripeError as exc:
        message = getattr(exc, "user_message", None) or "Stripe could not complete the request."
        raise StripeError(message) from exc


def customer_create(*, company_id: int, name: str, email: str) -> str:
    customer = _call(_client().v1.customers.create,
                     params={"name": name, "email": email,
                             "metadata": {"company_id": str(company_id)}},
                     options={"idempotency_key": f"likeness-customer-{company_id}"})
    return customer.id


def _session(obj: Any) -> Session:
    return Session(id=obj.id, url=getattr(obj, "url", None) or "", status=obj.status or "",
                   payment_status=obj.payment_status or "",
                   amount_total=int(obj.amount_total or 0), currency=obj.currency or "",
                   customer=str(obj.customer or ""))


def checkout_session_create(*, customer_id: str, company_id: int, credits: int,
                            amount_cents: int, label: str, success_url: str, cancel_url: str,
                            request_key: str) -> Session:
    """A one-off payment for ``credits``; ``request_key`` makes a double click buy once."""
    session = _call(_client().v1.checkout.sessions.create, params={
        "mode": "payment", "customer": customer_id, "client_reference_id": str(company_id),
        "line_items": [{"quantity": 1, "price_data": {
            "currency": settings.BILLING_CURRENCY, "unit_amount": amount_cents,
            "product_data": {"name": label}}}],
        "metadata": {"company_id": str(company_id), "credits": str(credits)},
        "invoice_creation": {"enabled": True},
        "success_url": success_url, "cancel_url": cancel_url,
    }, options={"idempotency_key": f"likeness-checkout-{company_id}-{request_key}"})
    return _session(session)


def checkout_session_get(session_id: str) -> Session:
    return _session(_call(_client().v1.checkout.sessions.retrieve, session_id))


def portal_session_create(*, customer_id: str, return_url: str, request_key: str) -> str:
    portal = _call(_client().v1.billing_portal.sessions.create,
                   params={"customer": customer_id, "return_url": return_url},
                   options={"idempotency_key": f"likeness-portal-{customer_id}-{request_key}"})
    return portal.url


def invoices_list(customer_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
    invoices = _call(_client().v1.invoices.list, params={"customer": customer_id,
                                                         "limit": limit})
    return [{"number": i.number, "amount_paid": i.amount_paid, "currency": i.currency,
             "created": datetime.fromtimestamp(i.created, tz=UTC),
             "status": i.status, "url": i.hosted_invoice_url}
            for i in invoices.data]


def webhook_event(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The verified event as a dict; WebhookInvalid when the signature or timestamp is wrong."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookInvalid("webhooks are not configured")
    if not signature:
        raise WebhookInvalid("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise WebhookInvalid("bad or stale signature") from exc
    except ValueError as exc:
        raise WebhookInvalid("the body is not a Stripe event") from exc
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)
