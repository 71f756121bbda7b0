"""Stripe's webhook events, applied once each: a purchase completed, expired or failed
(billing.services.checkout_sync), a payment refunded or disputed (billing.reversals). The
state is always re-read from Stripe, so order and repetition of events do not matter."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.rls import company_of, company_scope

from . import stripe_api
from .models import CheckoutSession, StripeEvent
from .reversals import PAYMENT_EVENTS, purchase_reversal_sync, session_for_payment_event
from .services import checkout_sync

CHECKOUT_EVENTS = frozenset({"checkout.session.completed",
                             "checkout.session.async_payment_succeeded",
                             "checkout.session.expired", "checkout.session.async_payment_failed"})


def stripe_event_record(*, event: dict) -> StripeEvent:
    """Store a verified event once; a duplicate delivery gets the stored row."""
    row, _ = StripeEvent.objects.get_or_create(
        event_id=event["id"], defaults={"type": event.get("type", ""), "payload": event})
    return row


def stripe_event_process(*, event_id: str) -> str:
    """Apply an event exactly once. Concurrent deliveries queue on the row lock; a handler
    that fails rolls back entirely and the event stays retryable."""
    try:
        with transaction.atomic():
            row = StripeEvent.objects.select_for_update().get(event_id=event_id)
            if row.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
                return row.status
            status = _dispatch(row)
            StripeEvent.objects.filter(pk=row.pk).update(
                status=status, attempts=row.attempts + 1, processed_at=timezone.now(),
                last_error="")
            return status
    except Exception as exc:
        StripeEvent.objects.filter(event_id=event_id).exclude(
            status=StripeEvent.Status.PROCESSED).update(
            status=StripeEvent.Status.FAILED, last_error=repr(exc)[:2000])
        raise


def _dispatch(row: StripeEvent) -> str:
    # The webhook checked the shape: data.object is an object with a string id.
    object_id = row.payload["data"]["object"]["id"]
    try:
        if row.type in CHECKOUT_EVENTS:
            session_id = object_id
        elif row.type in PAYMENT_EVENTS:
            session_id = session_for_payment_event(event_type=row.type, object_id=object_id)
        else:
            return StripeEvent.Status.IGNORED
        # Our record of the session names the company (core/rls.py: found past the wall).
        company_id = company_of(CheckoutSession, session_id=session_id) if session_id else None
        if company_id is None:
            return StripeEvent.Status.IGNORED  # not a purchase made through Likeness
        # Whatever the event says, the state is re-read from Stripe: order and staleness of
        # events cannot matter.
        with company_scope(company_id):
            if row.type in CHECKOUT_EVENTS:
                credited = checkout_sync(
                    session_id=session_id,
                    async_failed=row.type == "checkout.session.async_payment_failed")
                if credited is not None:
                    # A refund or dispute delivered before the purchase was credited found
                    # nothing to take back then: it is taken back now.
                    purchase_reversal_sync(session_id=session_id)
            else:
                purchase_reversal_sync(session_id=session_id)
    except stripe_api.StripeError as error:
        if error.missing:  # Stripe knows no such object: nothing will ever come of it
            return StripeEvent.Status.IGNORED
        raise
    return StripeEvent.Status.PROCESSED
