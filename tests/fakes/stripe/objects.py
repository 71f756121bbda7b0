"""The fake Stripe's API objects: customers, Checkout and portal sessions, invoices and
prices, made and read as the handler (tests/fakes/stripe/server.py) asks."""

from __future__ import annotations

import re
from typing import Any

from .wire import (
    _ApiError,
    _Failure,
    _int,
    _metadata,
    _missing,
    _no_such,
    _now,
    _opt,
    _rand,
    _unrecognized,
    new_id,
)


class StripeObjects:
    """Mixed into FakeStripe (tests/fakes/stripe/fake.py): called under its lock."""

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

