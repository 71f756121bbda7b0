"""Stripe webhooks, strictly: timestamps checked both ways, bodies that are no event refused,
and every event that moves money handled (refunds, disputes, delayed payments that fail);
idempotency keys that never meet other parameters.

The real ``stripe`` library talks to the local fake of Stripe's API; events are signed like
Stripe signs them and posted to our endpoint.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CheckoutSession, CreditEntry, StripeEvent
from billing.services import credit_balance, credits_adjust

from .helpers import db_fingerprint

pytestmark = pytest.mark.django_db
Kind = CreditEntry.Kind


def _url(name: str, tenant) -> str:
    return reverse(f"billing:{name}", kwargs={"company_slug": tenant.company.slug})


def _buy(tenant, *, offer: str = "pack-10", request_key: str = "form-1", **extra):
    return tenant.client_for(tenant.admin).post(
        _url("buy", tenant), {"offer": offer, "request_key": request_key, **extra})


def _bought(tenant, **kwargs) -> str:
    response = _buy(tenant, **kwargs)
    assert response.status_code == 302 and response["Location"].startswith("https://checkout")
    return CheckoutSession.objects.for_company(tenant.company).latest("pk").session_id


def _deliver(body: bytes, header: str) -> int:
    return Client(raise_request_exception=False).post(
        "/webhooks/stripe/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header).status_code


def _paid(tenant, stripe) -> str:
    session_id = _bought(tenant)
    assert _deliver(*stripe.signed(stripe.complete_checkout(session_id))) == 200
    assert credit_balance(company=tenant.company) == 10
    return session_id


def _reversals(company) -> list[int]:
    return list(CreditEntry.objects.for_company(company).filter(kind=Kind.REVERSAL)
                .order_by("pk").values_list("amount", flat=True))


# --- Signatures and bodies ----------------------------------------------------------------


def test_an_event_stamped_an_hour_in_the_future_is_refused(tenant_a, stripe_billing):
    session_id = _bought(tenant_a)
    event = stripe_billing.complete_checkout(session_id)
    before = db_fingerprint()
    assert _deliver(*stripe_billing.signed(event, timestamp=int(time.time()) + 3600)) == 400
    assert db_fingerprint() == before
    assert _deliver(*stripe_billing.signed(event, timestamp=int(time.time()) + 60)) == 200


@pytest.mark.parametrize("body", [
    "[]", '"an event"', "12", "null", "true", "[" * 5000 + "]" * 5000,
    '{"id": "evt_1", "type": "checkout.session.completed", "data": ' + "[" * 3000
    + "]" * 3000 + "}",
    '{"id": "evt_1", "type": "checkout.session.completed"}',
    '{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": []}}',
    '{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {"id": 5}}}',
    '{"id": ["evt_1"], "type": "x", "data": {"object": {"id": "cs_1"}}}',
    '{"id": "' + "e" * 300 + '", "type": "x.y", "data": {"object": {"id": "cs_1"}}}',
    '{"id": "evt_1", "type": "' + "t" * 101 + '", "data": {"object": {"id": "cs_1"}}}',
    '{"id": "evt_1", "type": "x.y", "data": {"object": {"id": "' + "c" * 300 + '"}}}',
])
def test_a_signed_body_that_is_no_event_is_a_400_and_stores_nothing(tenant_a, stripe_billing, body):
    before = db_fingerprint()
    assert _deliver(*stripe_billing.signed(body)) == 400
    assert db_fingerprint() == before


@pytest.mark.parametrize("header", [
    "t=1,v1=\u00e9\u00e9", "t=" + "9" * 400 + ",v1=" + "a" * 64, "t=,v1=" + "a" * 64,
    "garbage", "t=1" + ",v1=" + "a" * 64 * 200, ",,,", "t=-5,v1=" + "a" * 64,
])
def test_a_garbled_signature_header_is_a_400(tenant_a, stripe_billing, header):
    body, _ = stripe_billing.signed({"id": "evt_1"})
    assert _deliver(body, header) == 400


def test_a_body_that_is_not_utf8_is_a_400(tenant_a, stripe_billing):
    body = b"\xff\xfe{}"
    _, header = stripe_billing.signed(body.decode("latin-1"))
    assert _deliver(body, header) == 400


# --- Refunds, disputes, delayed payments ----------------------------------------------------


def test_a_full_refund_takes_the_credits_back_once(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)
    body, header = stripe_billing.signed(stripe_billing.refund_checkout(session_id))
    assert _deliver(body, header) == 200
    assert _deliver(body, header) == 200  # delivered again
    assert _reversals(tenant_a.company) == [-10]
    assert credit_balance(company=tenant_a.company) == 0


def test_partial_refunds_take_back_what_they_paid_for(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)  # 10 credits for 390.00
    assert _deliver(*stripe_billing.signed(stripe_billing.refund_checkout(session_id, 3900 * 3))) == 200
    assert _reversals(tenant_a.company) == [-3]
    small = stripe_billing.refund_checkout(session_id, 500)  # 3.13 credits' worth in all
    assert _deliver(*stripe_billing.signed(small)) == 200
    assert _reversals(tenant_a.company) == [-3]  # rounds down
    late = stripe_billing.refund_checkout(session_id, 3400)  # 4.0 in all
    assert _deliver(*stripe_billing.signed(late)) == 200
    assert _reversals(tenant_a.company) == [-3, -1]
    assert credit_balance(company=tenant_a.company) == 6


def test_a_refund_that_fails_later_gives_the_credits_back(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)
    assert _deliver(*stripe_billing.signed(stripe_billing.refund_checkout(session_id))) == 200
    assert credit_balance(company=tenant_a.company) == 0
    (refund_id,) = stripe_billing.refunds
    assert _deliver(*stripe_billing.signed(stripe_billing.fail_refund(refund_id))) == 200
    assert _reversals(tenant_a.company) == [-10, 10]
    assert credit_balance(company=tenant_a.company) == 10


def test_a_refund_after_the_credits_were_spent_leaves_a_debt(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)
    credits_adjust(company=tenant_a.company, amount=-8, reason="spent", actor=None)
    assert _deliver(*stripe_billing.signed(stripe_billing.refund_checkout(session_id))) == 200
    assert credit_balance(company=tenant_a.company) == -8


def test_a_dispute_takes_the_credits_and_a_won_dispute_gives_them_back(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)
    created = stripe_billing.dispute_checkout(session_id)
    assert _deliver(*stripe_billing.signed(created)) == 200
    assert credit_balance(company=tenant_a.company) == 0
    closed = stripe_billing.close_dispute(created["data"]["object"]["id"], won=True)
    assert _deliver(*stripe_billing.signed(closed)) == 200
    assert _deliver(*stripe_billing.signed(created)) == 200  # the old event, replayed late
    assert _reversals(tenant_a.company) == [-10, 10]
    assert credit_balance(company=tenant_a.company) == 10


def test_a_lost_dispute_keeps_them_taken_and_an_inquiry_takes_nothing(tenant_a, stripe_billing):
    session_id = _paid(tenant_a, stripe_billing)
    inquiry = stripe_billing.dispute_checkout(session_id, inquiry=True)
    assert _deliver(*stripe_billing.signed(inquiry)) == 200
    assert credit_balance(company=tenant_a.company) == 10
    dispute = stripe_billing.dispute_checkout(session_id)
    assert _deliver(*stripe_billing.signed(dispute)) == 200
    lost = stripe_billing.close_dispute(dispute["data"]["object"]["id"], won=False)
    assert _deliver(*stripe_billing.signed(lost)) == 200
    assert _reversals(tenant_a.company) == [-10]


def test_a_refund_of_a_charge_we_did_not_sell_is_ignored(tenant_a, stripe_billing):
    client = stripe_billing.client()
    customer = client.v1.customers.create(params={"email": "x@y.test"})
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "customer": customer.id, "success_url": "https://x.test",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 100,
                                                      "product_data": {"name": "other"}}}]})
    stripe_billing.complete_checkout(session.id)
    assert _deliver(*stripe_billing.signed(stripe_billing.refund_checkout(session.id))) == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.IGNORED
    assert _reversals(tenant_a.company) == []


def test_an_event_naming_an_object_stripe_does_not_know_is_ignored(tenant_a, stripe_billing):
    event = stripe_billing.event("charge.refunded", {"id": "ch_unknown", "object": "charge"})
    assert _deliver(*stripe_billing.signed(event)) == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.IGNORED


def test_a_delayed_payment_that_fails_closes_the_session_as_failed(tenant_a, stripe_billing):
    session_id = _bought(tenant_a)
    assert _deliver(*stripe_billing.signed(stripe_billing.complete_checkout(session_id,
                                                                    delayed=True))) == 200
    record = CheckoutSession.objects.for_company(tenant_a.company).get(session_id=session_id)
    assert record.status == CheckoutSession.Status.OPEN  # still processing: not failed yet
    failed = stripe_billing.settle_delayed_payment(session_id, succeeded=False)
    assert _deliver(*stripe_billing.signed(failed)) == 200
    record.refresh_from_db()
    assert record.status == CheckoutSession.Status.FAILED
    assert credit_balance(company=tenant_a.company) == 0
    page = tenant_a.client_for(tenant_a.admin).get(_url("billing", tenant_a)).content.decode()
    assert "failed; no credits were added" in page


def test_a_delayed_payment_that_succeeds_credits_once(tenant_a, stripe_billing):
    session_id = _bought(tenant_a)
    _deliver(*stripe_billing.signed(stripe_billing.complete_checkout(session_id, delayed=True)))
    assert credit_balance(company=tenant_a.company) == 0
    succeeded = stripe_billing.settle_delayed_payment(session_id, succeeded=True)
    assert _deliver(*stripe_billing.signed(succeeded)) == 200
    assert _deliver(*stripe_billing.signed(succeeded)) == 200
    assert credit_balance(company=tenant_a.company) == 10


# --- Idempotency keys -----------------------------------------------------------------------


def test_the_seat_form_sent_again_with_another_number_opens_a_new_checkout(tenant_a, stripe_billing):
    first = _bought(tenant_a, offer="seats", seats="5")
    # Back button, another number, the same form (and so the same request key).
    second = _bought(tenant_a, offer="seats", seats="6")
    assert first != second
    credits = dict(CheckoutSession.objects.for_company(tenant_a.company)
                   .values_list("session_id", "credits"))
    assert credits == {first: 5, second: 6}
    # A double click (same number, same form) still opens one.
    assert _bought(tenant_a, offer="seats", seats="6") == second
    assert len(stripe_billing.checkout_sessions) == 2


def test_each_page_shows_its_own_request_key(tenant_a, stripe_billing):
    admin = tenant_a.client_for(tenant_a.admin)
    keys = {admin.get(_url("billing", tenant_a)).content.decode().split(
        'name="request_key" value="')[1].split('"')[0] for _ in range(2)}
    assert len(keys) == 2


@pytest.mark.parametrize("request_key", ["", "é" * 10, "k" * 500, "a b"])
def test_a_garbled_request_key_still_buys(tenant_a, stripe_billing, request_key):
    response = _buy(tenant_a, request_key=request_key)
    assert response.status_code == 302 and response["Location"].startswith("https://checkout")


@pytest.mark.parametrize("seats", ["", "0", "5001", "9" * 400, "٣", "-1", "1.5"])
def test_a_bad_number_of_seats_is_a_message_not_an_error(tenant_a, stripe_billing, seats):
    response = _buy(tenant_a, offer="seats", seats=seats)
    assert response.status_code == 302 and response["Location"].endswith("/admin/billing/")
    assert not stripe_billing.checkout_sessions


def test_a_second_admin_can_open_the_stripe_customer(tenant_a, stripe_billing):
    """The customer's key names its parameters too: another admin's e-mail is no conflict."""
    from billing.stripe_api import customer_create

    customer_create(company_id=tenant_a.company.pk, name="Alpha", email="owner@alpha.example")
    customer_create(company_id=tenant_a.company.pk, name="Alpha", email="admin@alpha.example")


def test_the_fake_refuses_a_key_reused_with_other_parameters_like_stripe(stripe_billing):
    import stripe

    client = stripe_billing.client()
    client.v1.customers.create(params={"email": "a@b.test"}, options={"idempotency_key": "k"})
    with pytest.raises(stripe.IdempotencyError) as error:
        client.v1.customers.create(params={"email": "c@d.test"}, options={"idempotency_key": "k"})
    assert error.value.http_status == 400
    assert json.loads(error.value.http_body)["error"]["type"] == "idempotency_error"
