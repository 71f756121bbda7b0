"""A local fake of Stripe's HTTP API, on 127.0.0.1, for billing tests and scripts.

The real ``stripe`` library talks to it unchanged
(``stripe.StripeClient(key, base_addresses={"api": fake.base_url})``), so tests exercise our
code, the library and HTTP together. Requests are form-encoded with bracketed keys, as the
library sends them; answers are JSON shaped like Stripe's objects (only what we use is
modelled). Idempotency keys behave like Stripe's: a replay returns the first answer, the same
key with other parameters is a 400 ``idempotency_error``.

Webhooks are not sent: a test builds an event (``complete_checkout``, ``expire_checkout``,
``event``), signs it like Stripe (``signed``) and posts it to our endpoint itself, as often,
as late and in whatever order it likes.

In a test::

    from tests.fakes.stripe import fake_stripe  # noqa: F401  (the fixture)

    def test_something(fake_stripe):  # settings already point at it
        body, header = fake_stripe.signed(fake_stripe.complete_checkout(session_id))

In a script::

    with FakeStripe() as fake:
        print(fake.base_url, fake.secret_key, fake.webhook_secret)

    python -m tests.fakes.stripe --port 12111   # prints the same as JSON, serves until ^C
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import stripe

from .loopback import LoopbackFake, LoopbackHandler, serve_until_interrupted

API_VERSION: str = stripe.api_version
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_id(prefix: str) -> str:
    """An id like Stripe's: ``cus_NffrFeUfNV2Hib``, ``cs_test_a1...``."""
    return f"{prefix}_{_rand(24 if prefix.endswith('_test') else 14)}"


def new_secret_key() -> str:
    return "sk_test_" + _rand(40)


def new_webhook_secret() -> str:
    return "whsec_" + _rand(32)


def _now() -> int:
    return int(time.time())


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracketed form keys as nested dicts and lists; values stay strings.

    ``line_items[0][price_data][currency]=usd`` -> ``{"line_items": [{"price_data":
    {"currency": "usd"}}]}``; ``expand[]=a`` appends. Raises ValueError on clashing keys.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if match is None:
            raise ValueError(f"Invalid parameter name: {key}")
        path = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node: dict[str, Any] = root
        for index, part in enumerate(path):
            if part == "":
                part = str(len(node))  # "[]" appends
            last = index == len(path) - 1
            if last:
                if isinstance(node.get(part), dict):
                    raise ValueError(f"Invalid parameter: {key} is both a value and a hash")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValueError(f"Invalid parameter: {key} is both a value and a hash")
                node = child
    return _listify(root)


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class _ApiError(Exception):
    """Answered as Stripe's error JSON: ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",  # noqa: A002
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.error: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param


def _missing(param: str) -> _ApiError:
    return _ApiError(400, f"Missing required param: {param}.", code="parameter_missing",
                     param=param)


def _no_such(kind: str, object_id: str, param: str = "id", status: int = 404) -> _ApiError:
    return _ApiError(status, f"No such {kind}: '{object_id}'", code="resource_missing",
                     param=param)


def _int(params: dict[str, Any], key: str, param: str, default: int | None = None) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        if default is None:
            raise _missing(param)
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise _ApiError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer",
                        param=param) from None


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict):
        raise _ApiError(400, "Invalid hash", code="parameter_invalid_empty", param="metadata")
    return {str(k): str(v) for k, v in raw.items() if v != ""}


def _opt(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, Any]  # the query string, parsed like a form
    headers: dict[str, str]  # names lower-cased
    form: dict[str, Any]  # the parsed form body ({} for none)
    body: bytes


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None
    message: str | None
    should_retry: bool | None
    applied: bool


class FakeStripe(LoopbackFake):
    """Customers, Checkout Sessions, portal sessions, invoices and events, with failure knobs."""

    name = "stripe"
    server_version = "FakeStripe/1.0"

    def __init__(self, *, secret_key: str | None = None, webhook_secret: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.secret_key = secret_key or new_secret_key()
        self.webhook_secret = webhook_secret or new_webhook_secret()
        self.account_id = "acct_" + _rand(16)
        self.response_delay = 0.0  # seconds every API answer waits (for client timeouts)
        self.requests: list[RecordedRequest] = []
        # POST path -> the Idempotency-Key of each POST to it (None where it had none).
        self.idempotency_keys: defaultdict[str, list[str | None]] = defaultdict(list)
        self.customers: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.last_event_id: str | None = None
        self._line_items: dict[str, list[dict[str, Any]]] = {}
        # Idempotency-Key -> (method path, params, status, answer)
        self._replays: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()

    def client(self, **kwargs: Any) -> stripe.StripeClient:
        """A real ``StripeClient`` pointed at the fake (no retries unless asked)."""
        kwargs.setdefault("max_network_retries", 0)
        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.base_url},
                                   **kwargs)

    # --- controls ---

    def fail_next(self, n: int, status: int = 500, *, retry_after: float | None = None,
                  message: str | None = None, should_retry: bool | None = None,
                  applied: bool = False) -> None:
        """The next ``n`` authenticated API requests answer ``status`` with Stripe's error JSON.

        Replaces failures not yet used (``fail_next(0)`` clears them). ``retry_after`` sets
        Retry-After; ``should_retry`` sets Stripe-Should-Retry (the library obeys it: by
        default it retries 409 and 5xx, not 429). ``applied=True`` does the work first (the
        object is made and its idempotent answer saved) and then loses the answer, like a
        timeout after Stripe committed.
        """
        with self._lock:
            self._failures = [_Failure(status, retry_after, message, should_retry, applied)] * n

    def add_price(self, unit_amount: int, currency: str = "usd", *, name: str = "Fake product",
                  price_id: str | None = None) -> str:
        """A one-time Price that ``line_items[][price]`` can name; returns its id."""
        with self._lock:
            price_id = price_id or new_id("price")
            self.prices[price_id] = {
                "id": price_id, "object": "price", "active": True, "billing_scheme": "per_unit",
                "created": _now(), "currency": currency.lower(), "livemode": False,
                "lookup_key": None, "metadata": {}, "nickname": None,
                "product": new_id("prod"), "recurring": None, "tax_behavior": "unspecified",
                "type": "one_time", "unit_amount": int(unit_amount),
                "unit_amount_decimal": str(int(unit_amount)), "_name": name,
            }
            return price_id

    def customer(self, customer_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.customers[customer_id])

    def session(self, session_id: str) -> dict[str, Any]:
        """The Checkout Session as Stripe would return it now (a copy: a frozen snapshot)."""
        with self._lock:
            return copy.deepcopy(self.checkout_sessions[session_id])

    def line_items(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._line_items[session_id])

    def event_get(self, event_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.events[event_id])

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == method and r.path.startswith(path_prefix)]

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

    # --- behaviour (called by the handler, under the lock) ---

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _make_invoice(self, session: dict[str, Any], customer: dict[str, Any] | None,
                      now: int) -> str:
        invoice_id = new_id("in")
        prefix = customer["invoice_prefix"] if customer else "FAKE" + _rand(4).upper()
        if customer is not None:
            customer["_invoices"] = customer.get("_invoices", 0) + 1
        count = customer["_invoices"] if customer else 1
        token = _rand(40)
        amount, currency = session["amount_total"], session["currency"]
        lines = [{
            "id": new_id("il"), "object": "line_item", "amount": item["amount_total"],
            "currency": currency, "description": item["description"], "quantity": item["quantity"],
            "metadata": {},
        } for item in self._line_items[session["id"]]]
        invoice_data = (session.get("invoice_creation") or {}).get("invoice_data") or {}
        self.invoices[invoice_id] = {
            "id": invoice_id, "object": "invoice", "account_country": "US",
            "account_name": "Fake Stripe account", "amount_due": amount, "amount_paid": amount,
            "amount_remaining": 0, "attempt_count": 0, "attempted": True,
            "billing_reason": "manual", "collection_method": "charge_automatically",
            "created": now, "currency": currency, "customer": session["customer"],
            "customer_email": customer["email"] if customer else None,
            "customer_name": customer["name"] if customer else None,
            "description": invoice_data.get("description"),
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{self.account_id}/test_{token}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{self.account_id}/test_{token}/pdf",
            "lines": {"object": "list", "data": lines, "has_more": False,
                      "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False, "metadata": dict(invoice_data.get("metadata") or {}),
            "number": f"{prefix}-{count:04d}", "period_end": now, "period_start": now,
            "status": "paid", "status_transitions": {"finalized_at": now, "marked_uncollectible_at": None,
                                                     "paid_at": now, "voided_at": None},
            "subtotal": amount, "total": amount,
        }
        return invoice_id

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        email = _opt(params, "email")
        if email is not None and "@" not in email:
            raise _ApiError(400, f"Invalid email address: {email}", code="email_invalid",
                            param="email")
        customer_id = new_id("cus")
        customer = {
            "id": customer_id, "object": "customer", "address": None, "balance": 0,
            "created": _now(), "currency": None, "default_source": None, "delinquent": False,
            "description": _opt(params, "description"), "discount": None, "email": email,
            "invoice_prefix": _rand(8).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                                 "footer": None, "rendering_options": None},
            "livemode": False, "metadata": _metadata(params), "name": _opt(params, "name"),
            "next_invoice_sequence": 1, "phone": _opt(params, "phone"),
            "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
        }
        self.customers[customer_id] = customer
        return customer

    def _line_item(self, index: int, raw: Any) -> dict[str, Any]:
        param = f"line_items[{index}]"
        if not isinstance(raw, dict):
            raise _ApiError(400, "Invalid hash", param=param)
        quantity = _int(raw, "quantity", f"{param}[quantity]")
        if quantity < 1:
            raise _ApiError(400, "This value must be greater than or equal to 1.",
                            param=f"{param}[quantity]")
        if raw.get("price"):
            price = self.prices.get(str(raw["price"]))
            if price is None:
                raise _no_such("price", str(raw["price"]), f"{param}[price]", 400)
            price = dict(price)
            name = price.pop("_name")
        elif isinstance(raw.get("price_data"), dict):
            data = raw["price_data"]
            currency = _opt(data, "currency")
            if currency is None:
                raise _missing(f"{param}[price_data][currency]")
            product_data = data.get("product_data")
            if isinstance(product_data, dict) and product_data.get("name"):
                name, product = str(product_data["name"]), new_id("prod")
            elif data.get("product"):
                name, product = "Fake product", str(data["product"])
            else:
                raise _ApiError(400, "You must specify either `product` or `product_data` "
                                "when creating a price.", param=f"{param}[price_data]")
            unit_amount = _int(data, "unit_amount", f"{param}[price_data][unit_amount]")
            price = {
                "id": new_id("price"), "object": "price", "active": False, "created": _now(),
                "currency": currency.lower(), "livemode": False, "metadata": {},
                "product": product, "recurring": None, "type": "one_time",
                "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount),
            }
        else:
            raise _ApiError(400, f"You must specify either `price` or `price_data` in "
                            f"`{param}`.", param=param)
        total = price["unit_amount"] * quantity
        return {"id": new_id("li"), "object": "item", "amount_discount": 0,
                "amount_subtotal": total, "amount_tax": 0, "amount_total": total,
                "currency": price["currency"], "description": name, "price": price,
                "quantity": quantity}

    def _create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = _opt(params, "mode")
        if mode is None:
            raise _missing("mode")
        if mode not in {"payment", "setup", "subscription"}:
            raise _ApiError(400, "Invalid mode: must be one of payment, setup, or subscription",
                            code="parameter_invalid_empty", param="mode")
        customer_id = _opt(params, "customer")
        if customer_id is not None and customer_id not in self.customers:
            raise _no_such("customer", customer_id, "customer", 400)
        raw_items = params.get("line_items") or []
        if not isinstance(raw_items, list):
            raise _ApiError(400, "Invalid array", param="line_items")
        if mode == "payment" and not raw_items:
            raise _missing("line_items")
        items = [self._line_item(i, raw) for i, raw in enumerate(raw_items)]
        currencies = {item["currency"] for item in items}
        if len(currencies) > 1:
            raise _ApiError(400, "All line items must use the same currency.",
                            param="line_items")
        total = sum(item["amount_total"] for item in items)
        invoice_creation = None
        if mode == "payment":
            raw = params.get("invoice_creation") or {}
            invoice_creation = {
                "enabled": str(raw.get("enabled", "false")).lower() == "true",
                "invoice_data": {**{k: None for k in ("account_tax_ids", "custom_fields",
                                                      "description", "footer", "issuer",
                                                      "rendering_options")},
                                 "metadata": {}, **(raw.get("invoice_data") or {})},
            }
        session_id = new_id("cs_test")
        now = _now()
        session = {
            "id": session_id, "object": "checkout.session", "after_expiration": None,
            "allow_promotion_codes": None, "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None, "cancel_url": _opt(params, "cancel_url"),
            "client_reference_id": _opt(params, "client_reference_id"), "client_secret": None,
            "consent": None, "created": now, "currency": currencies.pop() if currencies else None,
            "customer": customer_id, "customer_creation": None, "customer_details": None,
            "customer_email": _opt(params, "customer_email"),
            "expires_at": _int(params, "expires_at", "expires_at", now + 24 * 3600),
            "invoice": None, "invoice_creation": invoice_creation, "livemode": False,
            "locale": _opt(params, "locale"), "metadata": _metadata(params), "mode": mode,
            "payment_intent": None, "payment_method_types": ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "status": "open", "submit_type": _opt(params, "submit_type"), "subscription": None,
            "success_url": _opt(params, "success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        }
        self.checkout_sessions[session_id] = session
        self._line_items[session_id] = items
        return session

    def _create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = _opt(params, "customer")
        if customer_id is None:
            raise _missing("customer")
        if customer_id not in self.customers:
            raise _no_such("customer", customer_id, "customer", 400)
        portal_id = new_id("bps")
        portal = {
            "id": portal_id, "object": "billing_portal.session", "configuration": new_id("bpc"),
            "created": _now(), "customer": customer_id, "flow": None, "livemode": False,
            "locale": _opt(params, "locale"), "on_behalf_of": None,
            "return_url": _opt(params, "return_url"),
            "url": f"https://billing.stripe.com/p/session/test_{_rand(40)}",
        }
        self.portal_sessions[portal_id] = portal
        return portal

    def _expire(self, session_id: str) -> dict[str, Any]:
        session = self.checkout_sessions.get(session_id)
        if session is None:
            raise _no_such("checkout.session", session_id)
        if session["status"] != "open":
            raise _ApiError(400, 'Only Checkout Sessions with a status in ["open"] can be '
                            f"expired. This Checkout Session has a status of \"{session['status']}\".",
                            code="checkout_session_expired" if session["status"] == "expired"
                            else None)
        session.update(status="expired", url=None)
        return session

    def _list(self, objects: list[dict[str, Any]], query: dict[str, Any], url: str, *,
              newest_first: bool = True) -> dict[str, Any]:
        if newest_first:  # stable: made in the same second, the later one first
            objects = sorted(reversed(objects), key=lambda o: o["created"], reverse=True)
        limit = _int(query, "limit", "limit", 10)
        if not 1 <= limit <= 100:
            raise _ApiError(400, "This value must be between 1 and 100.", param="limit")
        after = _opt(query, "starting_after")
        if after is not None:
            ids = [o["id"] for o in objects]
            if after not in ids:
                raise _no_such("object", after, "starting_after", 400)
            objects = objects[ids.index(after) + 1:]
        return {"object": "list", "data": objects[:limit], "has_more": len(objects) > limit,
                "url": url}

    def _get(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/invoices":
            found = [i for i in self.invoices.values()
                     if query.get("customer") in (None, i["customer"])
                     and query.get("status") in (None, i["status"])]
            return self._list(found, query, "/v1/invoices")
        if path == "/v1/customers":
            found = [c for c in self.customers.values()
                     if query.get("email") in (None, c["email"])]
            return self._list(found, query, "/v1/customers")
        if path == "/v1/checkout/sessions":
            found = [s for s in self.checkout_sessions.values()
                     if query.get("customer") in (None, s["customer"])
                     and query.get("payment_intent") in (None, s["payment_intent"])
                     and query.get("status") in (None, s["status"])]
            return self._list(found, query, "/v1/checkout/sessions")
        if path == "/v1/disputes":
            found = [d for d in self.disputes.values()
                     if query.get("charge") in (None, d["charge"])
                     and query.get("payment_intent") in (None, d["payment_intent"])]
            return self._list(found, query, "/v1/disputes")
        if match := re.fullmatch(r"/v1/checkout/sessions/([^/]+)/line_items", path):
            if match[1] not in self.checkout_sessions:
                raise _no_such("checkout.session", match[1])
            return self._list(self._line_items[match[1]], query, path, newest_first=False)
        stores = {"customers": ("customer", self.customers),
                  "checkout/sessions": ("checkout.session", self.checkout_sessions),
                  "invoices": ("invoice", self.invoices),
                  "payment_intents": ("payment_intent", self.payment_intents),
                  "charges": ("charge", self.charges), "prices": ("price", self.prices),
                  "disputes": ("dispute", self.disputes), "refunds": ("refund", self.refunds),
                  "events": ("event", self.events)}
        if match := re.fullmatch(r"/v1/([a-z_]+(?:/sessions)?)/([^/]+)", path):
            kind, store = stores.get(match[1], (None, None))
            if store is not None:
                if match[2] not in store:
                    raise _no_such(kind or "", match[2])
                return {k: v for k, v in store[match[2]].items() if not k.startswith("_")}
        raise _unrecognized("GET", path)

    def _post(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/customers":
            return self._create_customer(params)
        if path == "/v1/checkout/sessions":
            return self._create_checkout_session(params)
        if path == "/v1/billing_portal/sessions":
            return self._create_portal_session(params)
        if match := re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", path):
            return self._expire(match[1])
        if match := re.fullmatch(r"/v1/customers/([^/]+)", path):
            customer = self.customers.get(match[1])
            if customer is None:
                raise _no_such("customer", match[1])
            for key in ("email", "name", "description", "phone"):
                if key in params:
                    customer[key] = _opt(params, key)
            if isinstance(params.get("metadata"), dict):
                for key, value in params["metadata"].items():
                    if value == "":
                        customer["metadata"].pop(key, None)
                    else:
                        customer["metadata"][key] = str(value)
            return customer
        raise _unrecognized("POST", path)


def _unrecognized(method: str, path: str) -> _ApiError:
    return _ApiError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                     "https://stripe.com/docs or we can help at https://support.stripe.com/.")


class _Handler(LoopbackHandler):
    fake: FakeStripe

    def _reply(self, status: int, payload: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
        if self.fake.response_delay:
            time.sleep(self.fake.response_delay)
        self.reply(status, body=json.dumps(payload, indent=2).encode(), headers={
            "Request-Id": "req_" + _rand(14),
            "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION,
            **(headers or {})})

    def _error(self, exc: _ApiError) -> None:
        self._reply(exc.status, {"error": exc.error}, exc.headers)

    def _read(self) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Record the request; (path, query, form) or form None when it does not parse."""
        raw = self.body()
        split = urlsplit(self.path)
        path = unquote(split.path)
        try:
            query = parse_form(parse_qsl(split.query, keep_blank_values=True))
            form: dict[str, Any] | None = parse_form(
                parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=False))
        except (ValueError, UnicodeDecodeError):
            query, form = {}, None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.fake._lock:
            self.fake.requests.append(RecordedRequest(self.command, path, query, headers,
                                                      form or {}, raw))
            if self.command == "POST":
                self.fake.idempotency_keys[path].append(headers.get("idempotency-key"))
        return path, query, form

    def _gate(self) -> _Failure | None:
        """Auth, then an injected failure: raises _ApiError, or returns an ``applied`` one."""
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise _ApiError(401, "You did not provide an API key. You need to provide your API "
                            "key in the Authorization header, using Bearer auth (e.g. "
                            "'Authorization: Bearer YOUR_SECRET_KEY'). See "
                            "https://stripe.com/docs/api#authentication for details, or we can "
                            "help at https://support.stripe.com/.")
        key = auth[7:].strip()
        if not secrets.compare_digest(key, self.fake.secret_key):
            raise _ApiError(401, f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}")
        failure = self.fake._take_failure()
        if failure is None or failure.applied:
            return failure
        raise _injected(failure)

    def _handle(self) -> None:
        path, query, form = self._read()
        try:
            failure = self._gate()
            if form is None:
                raise _ApiError(400, "Invalid request: the body could not be parsed as "
                                "application/x-www-form-urlencoded.")
            if self.command == "GET":
                with self.fake._lock:
                    answer = copy.deepcopy(self.fake._get(path, query))
                headers: dict[str, str] = {}
            elif self.command == "POST":
                answer, headers = self._post(path, form)
            else:
                raise _unrecognized(self.command, path)
            if failure is not None:  # done, but the answer is lost
                raise _injected(failure)
        except _ApiError as exc:
            self._error(exc)
            return
        self._reply(200, answer, headers)

    def _post(self, path: str, form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        key = self.headers.get("Idempotency-Key")
        endpoint = f"POST {path}"
        with self.fake._lock:
            if key:
                if len(key) > 255:
                    raise _ApiError(400, "Idempotency keys are limited to 255 characters.",
                                    param="Idempotency-Key")
                seen = self.fake._replays.get(key)
                if seen is not None:
                    first_endpoint, first_form, _, answer = seen
                    if first_endpoint != endpoint:
                        raise _ApiError(
                            400, "Keys for idempotent requests can only be used for the same "
                            f"endpoint they were first used for ('{first_endpoint}'). Try using "
                            f"a key other than '{key}' if you meant to execute a different "
                            "request.", type="idempotency_error")
                    if first_form != form:
                        raise _ApiError(
                            400, "Keys for idempotent requests can only be used with the same "
                            f"parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            type="idempotency_error")
                    return copy.deepcopy(answer), {"Idempotency-Key": key,
                                                   "Idempotent-Replayed": "true"}
            answer = copy.deepcopy(
                {k: v for k, v in self.fake._post(path, form).items() if not k.startswith("_")})
            headers = {}
            if key:
                self.fake._replays[key] = (endpoint, copy.deepcopy(form), 200, answer)
                headers["Idempotency-Key"] = key
            return answer, headers

    do_GET = _handle  # noqa: N815
    do_POST = _handle  # noqa: N815
    do_DELETE = _handle  # noqa: N815


FakeStripe.handler = _Handler  # the handler is written after the fake it serves


def _injected(failure: _Failure) -> _ApiError:
    headers: dict[str, str] = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"
    if failure.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if failure.should_retry else "false"
    status = failure.status
    if status == 429:
        return _ApiError(429, failure.message or "Request rate limit exceeded. Learn more "
                         "about rate limits here https://stripe.com/docs/rate-limits.",
                         code="rate_limit", headers=headers)
    if status == 402:
        return _ApiError(402, failure.message or "Your card was declined.", type="card_error",
                         code="card_declined", headers=headers)
    if status == 409:
        return _ApiError(409, failure.message or "This object cannot be accessed right now "
                         "because another API request or Stripe process is currently accessing "
                         "it.", code="lock_timeout", headers=headers)
    if status >= 500:
        return _ApiError(status, failure.message or "An unknown error occurred (injected by "
                         "the fake).", type="api_error", headers=headers)
    return _ApiError(status, failure.message or f"Injected {status} from the fake.",
                     headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Stripe API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-key", default=None)
    parser.add_argument("--webhook-secret", default=None)
    args = parser.parse_args()
    fake = FakeStripe(secret_key=args.secret_key, webhook_secret=args.webhook_secret,
                      port=args.port)
    serve_until_interrupted(fake, lambda: {"base_url": fake.base_url,
                                           "secret_key": fake.secret_key,
                                           "webhook_secret": fake.webhook_secret})


if __name__ == "__main__":
    main()
