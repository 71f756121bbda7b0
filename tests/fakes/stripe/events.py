"""The fake Stripe's events: what a test makes happen (a checkout completed, a payment
settled late, a dispute, a refund) as the event Stripe would send, and the signature on it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

from .wire import API_VERSION, _now, _rand, new_id


class StripeEvents:
    """Mixed into FakeStripe (tests/fakes/stripe/fake.py), whose state it reads and writes."""

    def event(self, type: str, obj: dict[str, Any], *,  # noqa: A002
              previous_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        """An event like Stripe's (``evt_...``) around a copy of ``obj``; kept for ``event_get``."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(previous_attributes)
        event = {
            "id": new_id("evt"), "object": "event", "api_version": API_VERSION,
            "created": _now(), "data": data, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type,
        }
        with self._lock:
            self.events[event["id"]] = event
            self.last_event_id = event["id"]
        return copy.deepcopy(event)

    def complete_checkout(self, session_id: str, *, delayed: bool = False) -> dict[str, Any]:
        """The customer pays: the session is complete and paid, a PaymentIntent and a Charge
        exist, an Invoice too where ``invoice_creation[enabled]`` was true (as on Stripe).
        Returns the ``checkout.session.completed`` event.

        ``delayed``: a bank debit, as on Stripe: the session completes but stays unpaid (the
        PaymentIntent "processing") until ``settle_delayed_payment`` says how it ended."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            now = _now()
            customer = self.customers.get(session["customer"] or "")
            intent_id, charge_id = new_id("pi"), new_id("ch")
            amount, currency = session["amount_total"], session["currency"]
            self.charges[charge_id] = {
                "id": charge_id, "object": "charge", "amount": amount,
                "amount_captured": 0 if delayed else amount,
                "amount_refunded": 0, "captured": not delayed, "created": now,
                "currency": currency, "customer": session["customer"], "disputed": False,
                "livemode": False, "metadata": {}, "paid": not delayed,
                "payment_intent": intent_id, "refunded": False, "refunds": None,
                "status": "pending" if delayed else "succeeded",
                "receipt_url": f"https://pay.stripe.com/receipts/{_rand(40)}",
            }
            self.payment_intents[intent_id] = {
                "id": intent_id, "object": "payment_intent", "amount": amount,
                "amount_received": 0 if delayed else amount, "created": now,
                "currency": currency, "customer": session["customer"],
                "latest_charge": charge_id, "livemode": False, "metadata": {},
                "payment_method_types": ["us_bank_account" if delayed else "card"],
                "status": "processing" if delayed else "succeeded",
            }
            invoice_id = None
            if (session.get("invoice_creation") or {}).get("enabled") and not delayed:
                invoice_id = self._make_invoice(session, customer, now)
            details = None
            if customer is not None:
                details = {"address": None, "email": customer["email"], "name": customer["name"],
                           "phone": None, "tax_exempt": "none", "tax_ids": []}
            session.update(status="complete", payment_status="unpaid" if delayed else "paid",
                           payment_intent=intent_id, invoice=invoice_id,
                           customer_details=details)
            snapshot = copy.deepcopy(session)
        return self.event("checkout.session.completed", snapshot)

    def settle_delayed_payment(self, session_id: str, *, succeeded: bool) -> dict[str, Any]:
        """A delayed payment ends; returns ``checkout.session.async_payment_succeeded`` or
        ``…_failed`` (the session stays complete; on failure it stays unpaid for good)."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            intent = self.payment_intents.get(session.get("payment_intent") or "")
            if session["status"] != "complete" or intent is None or \
                    intent["status"] != "processing":
                raise ValueError(f"{session_id} has no delayed payment in progress")
            charge = self.charges[intent["latest_charge"]]
            if succeeded:
                intent.update(status="succeeded", amount_received=intent["amount"])
                charge.update(status="succeeded", paid=True, captured=True,
                              amount_captured=charge["amount"])
                session["payment_status"] = "paid"
                if (session.get("invoice_creation") or {}).get("enabled"):
                    session["invoice"] = self._make_invoice(
                        session, self.customers.get(session["customer"] or ""), _now())
            else:
                intent["status"] = "requires_payment_method"
                charge.update(status="failed", failure_code="debit_not_authorized")
            snapshot = copy.deepcopy(session)
        kind = "succeeded" if succeeded else "failed"
        return self.event(f"checkout.session.async_payment_{kind}", snapshot)

    def dispute_checkout(self, session_id: str, amount: int | None = None, *,
                         inquiry: bool = False) -> dict[str, Any]:
        """The card holder disputes a paid session's charge; returns ``charge.dispute.created``.
        An ``inquiry`` ("warning_needs_response") takes no money yet, as on Stripe."""
        with self._lock:
            intent = self.payment_intents[self.checkout_sessions[session_id]["payment_intent"]]
            charge = self.charges[intent["latest_charge"]]
            dispute_id = new_id("dp")
            self.disputes[dispute_id] = {
                "id": dispute_id, "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "balance_transactions": [], "charge": charge["id"], "created": _now(),
                "currency": charge["currency"], "is_charge_refundable": False,
                "livemode": False, "metadata": {}, "payment_intent": intent["id"],
                "reason": "fraudulent",
                "status": "warning_needs_response" if inquiry else "needs_response",
            }
            charge["disputed"] = True
            snapshot = copy.deepcopy(self.disputes[dispute_id])
        return self.event("charge.dispute.created", snapshot)

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict[str, Any]:
        """The bank decides; returns ``charge.dispute.closed`` (status won or lost)."""
        with self._lock:
            dispute = self.disputes[dispute_id]
            if dispute["status"] in ("won", "lost", "warning_closed"):
                raise ValueError(f"{dispute_id} is already {dispute['status']}")
            inquiry = dispute["status"].startswith("warning_")
            dispute["status"] = "warning_closed" if inquiry else ("won" if won else "lost")
            snapshot = copy.deepcopy(dispute)
        return self.event("charge.dispute.closed", snapshot)

    def expire_checkout(self, session_id: str) -> dict[str, Any]:
        """The session times out unpaid; returns the ``checkout.session.expired`` event."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            session["status"] = "expired"
            session["url"] = None
            snapshot = copy.deepcopy(session)
        return self.event("checkout.session.expired", snapshot)

    def refund_checkout(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund (part of) a paid session's charge; returns the ``charge.refunded`` event."""
        with self._lock:
            intent = self.payment_intents[self.checkout_sessions[session_id]["payment_intent"]]
            charge = self.charges[intent["latest_charge"]]
            refund = charge["amount"] - charge["amount_refunded"] if amount is None else amount
            if not 0 < refund <= charge["amount"] - charge["amount_refunded"]:
                raise ValueError(f"cannot refund {refund} of {charge['id']}")
            charge["amount_refunded"] += refund
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            refund_id = new_id("re")
            self.refunds[refund_id] = {
                "id": refund_id, "object": "refund", "amount": refund, "charge": charge["id"],
                "created": _now(), "currency": charge["currency"], "metadata": {},
                "payment_intent": intent["id"], "reason": None, "status": "succeeded"}
            charge["refunds"] = {"object": "list", "data": [
                r for r in self.refunds.values() if r["charge"] == charge["id"]],
                "has_more": False, "url": f"/v1/charges/{charge['id']}/refunds"}
            snapshot = copy.deepcopy(charge)
        return self.event("charge.refunded", snapshot,
                          previous_attributes={"amount_refunded": snapshot["amount_refunded"] - refund,
                                               "refunded": False})

    def fail_refund(self, refund_id: str) -> dict[str, Any]:
        """A refund the card network could not deliver: the money comes back to the merchant,
        as on Stripe. Returns the ``charge.refund.updated`` event."""
        with self._lock:
            refund = self.refunds[refund_id]
            if refund["status"] != "succeeded":
                raise ValueError(f"{refund_id} is {refund['status']}")
            refund.update(status="failed", failure_reason="expired_or_canceled_card")
            charge = self.charges[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            snapshot = copy.deepcopy(refund)
        return self.event("charge.refund.updated", snapshot)

    def signed(self, event: dict[str, Any] | bytes | str, *, timestamp: int | None = None,
               secret: str | None = None) -> tuple[bytes, str]:
        """The raw body and ``Stripe-Signature`` header Stripe would send for ``event``:
        ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``, with the fake's
        webhook secret unless ``secret`` (a forgery) and now unless ``timestamp`` (late)."""
        if isinstance(event, bytes):
            payload = event.decode()
        elif isinstance(event, str):
            payload = event
        else:
            payload = json.dumps(event, indent=2)
        # Signed here, not by the stripe library's own helper (stripe>=13 only): the test that
        # the library verifies it then checks two independent implementations.
        moment = _now() if timestamp is None else int(timestamp)
        digest = hmac.new((secret or self.webhook_secret).encode(),
                          f"{moment}.{payload}".encode(), hashlib.sha256).hexdigest()
        return payload.encode(), f"t={moment},v1={digest}"
