"""Money that goes back: a refunded or disputed purchase gives back its credits.

What to take back is re-read from Stripe (the charge's refunded amount and its disputes),
never from the event, and written as the difference from what the ledger already took back:
events may come twice, late or out of order and the ledger still ends where Stripe is. Credits
already spent stay spent; the balance may go below zero and new jobs wait for a purchase.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from . import stripe_api
from .models import CheckoutSession, CreditEntry
from .services import _entry, _lock

Kind = CreditEntry.Kind
REFUND_EVENTS = frozenset({"charge.refunded"})
# A refund that failed later gives the money back to us (the object is the refund).
REFUND_OBJECT_EVENTS = frozenset({"charge.refund.updated"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated",
                            "charge.dispute.closed", "charge.dispute.funds_withdrawn",
                            "charge.dispute.funds_reinstated"})
PAYMENT_EVENTS = REFUND_EVENTS | REFUND_OBJECT_EVENTS | DISPUTE_EVENTS


def session_for_payment_event(*, event_type: str, object_id: str) -> str | None:
    """The Checkout Session behind a charge or dispute event, as Stripe says (not the event)."""
    if event_type in DISPUTE_EVENTS:
        charge_id = stripe_api.charge_for_dispute(object_id)
    elif event_type in REFUND_OBJECT_EVENTS:
        charge_id = stripe_api.charge_for_refund(object_id)
    else:
        charge_id = object_id
    intent_id = stripe_api.payment_intent_for_charge(charge_id) if charge_id else None
    return stripe_api.session_for_payment_intent(intent_id) if intent_id else None


@transaction.atomic
def purchase_reversal_sync(*, session_id: str) -> CreditEntry | None:
    """Bring the credits taken back from one purchase in line with its refunds and disputes."""
    record = CheckoutSession.objects.unscoped().select_for_update().filter(
        session_id=session_id).first()
    if record is None:
        raise LookupError(f"no checkout session {session_id} of ours")
    company = record.company
    payment = stripe_api.checkout_payment(session_id)
    purchase = CreditEntry.objects.for_company(company).filter(
        kind=Kind.PURCHASE, stripe_ref=session_id).first()
    if payment is None or payment.amount <= 0 or purchase is None:
        return None  # nothing was charged, or never credited: nothing to take back
    taken_cents = min(payment.amount, payment.refunded + payment.disputed)
    # In proportion, rounded down: a partial refund takes back the credits it paid for.
    target = purchase.amount * taken_cents // payment.amount
    _lock(company)
    already = -(CreditEntry.objects.for_company(company).filter(
        kind=Kind.REVERSAL, stripe_ref=session_id).aggregate(total=Sum("amount"))["total"] or 0)
    change = target - already
    if change == 0:
        return None
    if change > 0:
        reason = (f"Stripe: {payment.refunded} refunded, {payment.disputed} disputed of "
                  f"{payment.amount} {purchase.currency or ''}".strip() + f" ({session_id})")
    else:
        reason = f"Stripe: a refund failed or a dispute was won ({session_id})"
    return _entry(company, kind=Kind.REVERSAL, amount=-change, stripe_ref=session_id,
                  currency=purchase.currency, reason=reason[:500])
