"""Everything that talks to Stripe, through the official ``stripe`` library.

Explicit timeouts; every create carries an idempotency key derived from what it creates (so
a retried request can never buy, bill or open anything twice); webhook signatures verified
on the raw body with a timestamp tolerance.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from core.inputs import WebhookInvalid, webhook_json


class StripeError(Exception):
    """Stripe refused or could not be reached; the message is safe to show an admin."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # Stripe's HTTP status, None when it was not reached

    @property
    def missing(self) -> bool:
        return self.status == 404


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
        raise StripeError(message, status=getattr(exc, "http_status", None)) from exc


def _digest(*parts: object) -> str:
    """Part of an idempotency key that changes with the parameters: Stripe answers 400 to a
    key reused with other parameters, so a key must never outlive what it was made for."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def customer_create(*, company_id: int, name: str, email: str) -> str:
    customer = _call(_client().v1.customers.create,
                     params={"name": name, "email": email,
                             "metadata": {"company_id": str(company_id)}},
                     options={"idempotency_key": f"likeness-customer-{company_id}-"
                                                 f"{_digest(name, email)}"})
    return customer.id


def _session(obj: Any) -> Session:
    return Session(id=obj.id, url=getattr(obj, "url", None) or "", status=obj.status or "",
                   payment_status=obj.payment_status or "",
                   amount_total=int(obj.amount_total or 0), currency=obj.currency or "",
                   customer=str(obj.customer or ""))


def checkout_session_create(*, customer_id: str, company_id: int, credits: int,
                            amount_cents: int, label: str, success_url: str, cancel_url: str,
                            request_key: str) -> Session:
    """A one-off payment for ``credits``. ``request_key`` comes from the form (one per page
    shown): a double click buys once, and the same form sent again with another amount (back
    button, a changed number of seats) opens a new Checkout instead of reusing the key."""
    digest = _digest(customer_id, credits, amount_cents, label, settings.BILLING_CURRENCY,
                     success_url)
    session = _call(_client().v1.checkout.sessions.create, params={
        "mode": "payment", "customer": customer_id, "client_reference_id": str(company_id),
        "line_items": [{"quantity": 1, "price_data": {
            "currency": settings.BILLING_CURRENCY, "unit_amount": amount_cents,
            "product_data": {"name": label}}}],
        "metadata": {"company_id": str(company_id), "credits": str(credits)},
        "invoice_creation": {"enabled": True},
        "success_url": success_url, "cancel_url": cancel_url,
    }, options={"idempotency_key": f"likeness-checkout-{company_id}-{request_key}-{digest}"})
    return _session(session)


def checkout_session_get(session_id: str) -> Session:
    return _session(_call(_client().v1.checkout.sessions.retrieve, session_id))


@dataclass(frozen=True)
class Payment:
    """What happened to the money of one paid Checkout Session, as Stripe says now."""

    session_id: str
    amount: int  # cents charged
    refunded: int  # cents refunded so far
    disputed: int  # cents taken by disputes that are open or lost (not won, not inquiries)


# Disputes whose money Stripe has taken from us (an inquiry, "warning_*", takes nothing).
DISPUTE_TAKEN = frozenset({"needs_response", "under_review", "lost"})


def session_for_payment_intent(payment_intent_id: str) -> str | None:
    sessions = _call(_client().v1.checkout.sessions.list,
                     params={"payment_intent": payment_intent_id, "limit": 1})
    return sessions.data[0].id if sessions.data else None


def payment_intent_for_charge(charge_id: str) -> str | None:
    return str(_call(_client().v1.charges.retrieve, charge_id).payment_intent or "") or None


def charge_for_refund(refund_id: str) -> str | None:
    return str(_call(_client().v1.refunds.retrieve, refund_id).charge or "") or None


def charge_for_dispute(dispute_id: str) -> str | None:
    return str(_call(_client().v1.disputes.retrieve, dispute_id).charge or "") or None


def checkout_payment(session_id: str) -> Payment | None:
    """Refunds and disputes of a session's charge; None while nothing was charged."""
    client = _client()
    session = _call(client.v1.checkout.sessions.retrieve, session_id)
    if not session.payment_intent:
        return None
    intent = _call(client.v1.payment_intents.retrieve, str(session.payment_intent))
    if not intent.latest_charge:
        return None
    charge = _call(client.v1.charges.retrieve, str(intent.latest_charge))
    disputes = _call(client.v1.disputes.list, params={"charge": charge.id, "limit": 100})
    return Payment(session_id=session_id, amount=int(charge.amount or 0),
                   refunded=int(charge.amount_refunded or 0),
                   disputed=sum(int(d.amount or 0) for d in disputes.data
                                if d.status in DISPUTE_TAKEN))


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


# Stripe's own formats: "t=<unix seconds>" and "v1=<64 hex>" items; ids like "evt_1Nx…".
_SIGNATURE_ITEM = re.compile(r"[a-z0-9_]{1,20}=[\x21-\x7e]{0,512}")
_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")


def webhook_event(*, payload: bytes, signature: str, now: float | None = None) -> dict[str, Any]:
    """The verified event as a dict; WebhookInvalid when anything about it is wrong.

    The signature is checked by the library; before it, the header's shape (the library
    raises TypeError on a non-ASCII signature and takes any length of timestamp), and after
    it, what the library leaves out: a timestamp from the future is refused like a stale one,
    and the body must be an event object of bounded depth with string ids that fit our columns.
    """
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookInvalid("webhooks are not configured")
    if not signature:
        raise WebhookInvalid("missing Stripe-Signature header")
    items = signature.split(",")
    if len(items) > 16 or not all(_SIGNATURE_ITEM.fullmatch(item) for item in items):
        raise WebhookInvalid("malformed Stripe-Signature header")
    stamps = [item[2:] for item in items if item.startswith("t=")]
    if len(stamps) != 1 or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise WebhookInvalid("malformed Stripe-Signature header")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    try:
        # Decoded here: given bytes, stripe 12.5-15.0 (at least) verify against str(bytes),
        # "b'...'", so no signature would ever match.
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookInvalid("the body is not UTF-8") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature, settings.STRIPE_WEBHOOK_SECRET,
                                              tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookInvalid("bad or stale signature") from exc
    current = time.time() if now is None else now
    if abs(current - int(stamps[0])) > tolerance:  # the library only refuses the past
        raise WebhookInvalid("signature timestamp outside the tolerance")
    event = webhook_json(payload, refusal="the body is not a Stripe event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event.get("id"), str) and _ID.fullmatch(event["id"])
            and isinstance(event.get("type"), str) and _EVENT_TYPE.fullmatch(event["type"])
            and isinstance(obj, dict) and isinstance(obj.get("id"), str)
            and _ID.fullmatch(obj["id"])):
        raise WebhookInvalid("the body is not a Stripe event")
    return event
