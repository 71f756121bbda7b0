"""Buying credits through Stripe Checkout, and webhooks applied exactly once.

The real ``stripe`` library talks to a local fake of Stripe's API; webhook events are signed
like Stripe signs them and posted to our endpoint twice at once, late, out of order, forged.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CheckoutSession, CreditEntry, StripeEvent
from billing.services import credit_balance

from .helpers import at_once, db_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)
Kind = CreditEntry.Kind


def _url(name: str, tenant) -> str:
    return reverse(f"billing:{name}", kwargs={"company_slug": tenant.company.slug})


def _buy(tenant, *, offer: str = "pack-10", **extra) -> str:
    """The admin buys credits; returns the Checkout Session's id."""
    admin = tenant.client_for(tenant.admin)
    response = admin.post(_url("buy", tenant), {"offer": offer, "request_key": "k1", **extra})
    assert response.status_code == 302 and response["Location"].startswith("https://")
    return CheckoutSession.objects.for_company(tenant.company).latest("created_at").session_id


def _deliver(body: bytes, header: str) -> int:
    return Client().post("/webhooks/stripe/", data=body, content_type="application/json",
                         HTTP_STRIPE_SIGNATURE=header).status_code


def _purchases(company) -> list[int]:
    return list(CreditEntry.objects.for_company(company).filter(kind=Kind.PURCHASE)
                .values_list("amount", flat=True))


def test_checkout_then_a_webhook_delivered_twice_at_once_and_again_later_credits_once(
        tenant_a, stripe_billing):
    session_id = _buy(tenant_a)
    record = CheckoutSession.objects.for_company(tenant_a.company).get(session_id=session_id)
    assert (record.credits, record.amount_cents, record.status) == (10, 39000, "open")
    # Every create carried an idempotency key.
    for path in ("/v1/customers", "/v1/checkout/sessions"):
        assert stripe_billing.idempotency_keys[path] and all(stripe_billing.idempotency_keys[path])

    body, header = stripe_billing.signed(stripe_billing.complete_checkout(session_id))
    statuses: list[int] = []
    at_once(lambda _: statuses.append(_deliver(body, header)), range(2))
    assert statuses == [200, 200]
    assert _purchases(tenant_a.company) == [10]
    # Days later Stripe replays it (freshly signed): nothing changes.
    body, header = stripe_billing.signed(stripe_billing.event_get(stripe_billing.last_event_id))
    assert _deliver(body, header) == 200
    assert _purchases(tenant_a.company) == [10]
    assert credit_balance(company=tenant_a.company) == 10
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED
    record.refresh_from_db()
    assert record.status == CheckoutSession.Status.PAID


def test_out_of_order_events_are_settled_by_what_stripe_says_now(tenant_a, stripe_billing):
    session_id = _buy(tenant_a)
    stale = stripe_billing.event("checkout.session.completed",
                             stripe_billing.session(session_id))  # a snapshot while still unpaid
    completed = stripe_billing.complete_checkout(session_id)
    expired_late = stripe_billing.event("checkout.session.expired", stripe_billing.session(session_id))
    # Delivered newest first, then the stale ones: the ledger is right after each.
    for event in (completed, expired_late, stale):
        assert _deliver(*stripe_billing.signed(event)) == 200
        assert _purchases(tenant_a.company) == [10]
    record = CheckoutSession.objects.for_company(tenant_a.company).get(session_id=session_id)
    assert record.status == CheckoutSession.Status.PAID


def test_returning_from_checkout_credits_before_the_webhook_and_the_webhook_adds_nothing(
        tenant_a, stripe_billing):
    session_id = _buy(tenant_a)
    event = stripe_billing.complete_checkout(session_id)
    admin = tenant_a.client_for(tenant_a.admin)
    page = admin.get(_url("billing", tenant_a) + f"?checkout={session_id}", follow=True)
    assert "your credits are in" in page.content.decode()
    assert _deliver(*stripe_billing.signed(event)) == 200
    assert _purchases(tenant_a.company) == [10]
    # Another company cannot claim this session by pasting its id.
    assert credit_balance(company=tenant_a.company) == 10


def test_returning_after_the_webhook_says_the_credits_are_in(tenant_a, stripe_billing):
    """The usual order: Stripe's webhook credits first, then the admin comes back."""
    session_id = _buy(tenant_a)
    assert _deliver(*stripe_billing.signed(stripe_billing.complete_checkout(session_id))) == 200
    page = tenant_a.client_for(tenant_a.admin).get(
        _url("billing", tenant_a) + f"?checkout={session_id}", follow=True).content.decode()
    assert "your credits are in" in page and "being confirmed" not in page
    assert _purchases(tenant_a.company) == [10]


def test_the_billing_page_shows_money_and_the_free_preview(tenant_a, stripe_billing, settings):
    settings.CREDIT_SEAT_PRICE_CENTS = 4000
    page = tenant_a.client_for(tenant_a.admin).get(_url("billing", tenant_a)).content.decode()
    assert "40.00 USD each" in page and " cents" not in page
    assert "one free preview" in page


def test_a_forged_or_stale_signature_is_refused_and_changes_nothing(tenant_a, stripe_billing):
    session_id = _buy(tenant_a)
    event = stripe_billing.complete_checkout(session_id)
    before = db_fingerprint()
    body, _ = stripe_billing.signed(event)
    _, forged = stripe_billing.signed(event, secret="whsec_not_ours")
    assert _deliver(body, forged) == 400
    assert _deliver(*stripe_billing.signed(event, timestamp=int(time.time()) - 3600)) == 400
    assert _deliver(body, "") == 400
    assert db_fingerprint() == before


def test_a_handler_failure_is_retried_and_never_half_applied(tenant_a, stripe_billing):
    session_id = _buy(tenant_a)
    body, header = stripe_billing.signed(stripe_billing.complete_checkout(session_id))
    stripe_billing.fail_next(5, 500)  # Stripe is down when we re-fetch the session
    assert _deliver(body, header) == 500
    row = StripeEvent.objects.get()
    assert row.status == StripeEvent.Status.FAILED and row.last_error
    assert _purchases(tenant_a.company) == []
    stripe_billing.fail_next(0, 500)
    assert _deliver(body, header) == 200  # Stripe's retry
    assert _purchases(tenant_a.company) == [10]


def test_per_seat_purchase_and_the_billing_page(tenant_a, stripe_billing):
    session_id = _buy(tenant_a, offer="seats", seats="7")
    record = CheckoutSession.objects.for_company(tenant_a.company).get(session_id=session_id)
    assert (record.credits, record.amount_cents) == (7, 28000)
    _deliver(*stripe_billing.signed(stripe_billing.complete_checkout(session_id)))
    admin = tenant_a.client_for(tenant_a.admin)
    page = admin.get(_url("billing", tenant_a)).content.decode()
    assert 'data-balance>7<' in page
    assert "Purchase" in page and "+7" in page
    assert "No invoices yet." not in page  # the paid session's invoice is listed
    portal = admin.post(_url("portal", tenant_a))
    assert portal.status_code == 302 and portal["Location"].startswith("https://")


def test_members_and_outsiders_cannot_buy(tenant_a, tenant_b, stripe_billing):
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    assert member.post(_url("buy", tenant_a), {"offer": "pack-10"}).status_code == 403
    assert outsider.post(_url("buy", tenant_a), {"offer": "pack-10"}).status_code == 404
    assert member.get(_url("billing", tenant_a)).status_code == 403
    assert db_fingerprint() == before
    assert not stripe_billing.requests_to("POST", "/v1/checkout/sessions")


def test_success_url_carries_the_session_id(tenant_a, stripe_billing):
    _buy(tenant_a)
    create = stripe_billing.requests_to("POST", "/v1/checkout/sessions")[0]
    success = create.form["success_url"]
    assert parse_qs(urlsplit(success).query)["checkout"] == ["{CHECKOUT_SESSION_ID}"]
