"""FakeStripe: the fake's state and the controls a test uses (failures, prices, lookups);
its events, objects and HTTP handling live beside it."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

import stripe

from ..loopback import LoopbackFake
from .events import StripeEvents
from .objects import StripeObjects
from .server import StripeHandler
from .wire import (
    RecordedRequest,
    _Failure,
    _now,
    _rand,
    new_id,
    new_secret_key,
    new_webhook_secret,
)


class FakeStripe(StripeEvents, StripeObjects, LoopbackFake):
    """Customers, Checkout Sessions, portal sessions, invoices and events, with failure knobs."""

    name = "stripe"
    server_version = "FakeStripe/1.0"
    handler = StripeHandler

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
