"""The Stripe fake, driven by the real ``stripe`` library (no database)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from tests.fakes.stripe import FakeStripe, parse_form


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as started:
        yield started


def _client(fake: FakeStripe, key: str | None = None, **kwargs) -> stripe.StripeClient:
    kwargs.setdefault("max_network_retries", 0)
    return stripe.StripeClient(key or fake.secret_key, base_addresses={"api": fake.base_url},
                               http_client=stripe.RequestsClient(timeout=5), **kwargs)


def _checkout(client: stripe.StripeClient, customer: str, **options):
    return client.v1.checkout.sessions.create(params={
        "mode": "payment", "customer": customer, "client_reference_id": "5",
        "line_items": [
            {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 39000,
                                           "product_data": {"name": "10 credits"}}},
            {"quantity": 2, "price_data": {"currency": "usd", "unit_amount": 500,
                                           "product_data": {"name": "extra"}}},
        ],
        "metadata": {"company_id": "5", "credits": "10"},
        "invoice_creation": {"enabled": True},
        "success_url": "http://testserver/ok?checkout={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://testserver/cancel",
    }, options=options or None)


def test_parse_form_nests_brackets_into_dicts_and_lists():
    pairs = [("line_items[0][price_data][currency]", "usd"), ("line_items[0][quantity]", "1"),
             ("line_items[1][price]", "price_x"), ("metadata[company_id]", "5"),
             ("expand[]", "a"), ("expand[]", "b"), ("mode", "payment")]
    assert parse_form(pairs) == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "1"}, {"price": "price_x"}],
        "metadata": {"company_id": "5"}, "expand": ["a", "b"], "mode": "payment"}
    with pytest.raises(ValueError):
        parse_form([("a", "1"), ("a[b]", "2")])


def test_customer_checkout_complete_invoices_and_portal(fake):
    client = _client(fake)
    customer = client.v1.customers.create(params={
        "email": "admin@acme.test", "name": "Acme", "metadata": {"company_id": "5"}})
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert isinstance(customer, stripe.Customer)
    assert client.v1.customers.retrieve(customer.id).metadata["company_id"] == "5"

    session = _checkout(client, customer.id)
    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_") and session.url.startswith("https://")
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency, session.customer) == (40000, "usd",
                                                                          customer.id)
    assert session.metadata.to_dict() == {"company_id": "5", "credits": "10"}
    assert session.client_reference_id == "5"
    form = fake.requests_to("POST", "/v1/checkout/sessions")[0].form
    assert form["line_items"][1] == {"quantity": "2", "price_data": {
        "currency": "usd", "unit_amount": "500", "product_data": {"name": "extra"}}}
    assert form["success_url"].endswith("?checkout={CHECKOUT_SESSION_ID}")
    assert client.v1.invoices.list(params={"customer": customer.id}).data == []

    event = fake.complete_checkout(session.id)
    assert event["type"] == "checkout.session.completed" and event["id"].startswith("evt_")
    assert event["object"] == "event" and event["livemode"] is False
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["object"]["payment_status"] == "paid"
    assert fake.event_get(fake.last_event_id) == event

    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.payment_intent.startswith("pi_") and paid.invoice.startswith("in_")

    invoices = client.v1.invoices.list(params={"customer": customer.id, "limit": 20})
    assert invoices.object == "list" and invoices.has_more is False
    (invoice,) = invoices.data
    assert isinstance(invoice, stripe.Invoice) and invoice.id == paid.invoice
    assert (invoice.status, invoice.amount_paid, invoice.currency) == ("paid", 40000, "usd")
    assert invoice.hosted_invoice_url.startswith("https://") and invoice.number
    assert invoice.created <= time.time()
    assert client.v1.invoices.list(params={"customer": "cus_other"}).data == []

    portal = client.v1.billing_portal.sessions.create(params={
        "customer": customer.id, "return_url": "http://testserver/billing"})
    assert isinstance(portal, stripe.billing_portal.Session)
    assert portal.id.startswith("bps_") and portal.url.startswith("https://")


def test_expire_and_events(fake):
    client = _client(fake)
    customer = client.v1.customers.create(params={"email": "a@b.test"})
    session = _checkout(client, customer.id)
    stale = fake.event("checkout.session.completed", fake.session(session.id))
    expired = fake.expire_checkout(session.id)
    assert expired["type"] == "checkout.session.expired"
    assert expired["data"]["object"]["status"] == "expired"
    assert stale["data"]["object"]["status"] == "open"  # a snapshot
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(ValueError):
        fake.complete_checkout(session.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"


def test_every_post_records_its_idempotency_key_and_replays_return_the_same_object(fake):
    client = _client(fake)
    first = client.v1.customers.create(params={"email": "a@b.test"},
                                       options={"idempotency_key": "cust-5"})
    again = client.v1.customers.create(params={"email": "a@b.test"},
                                       options={"idempotency_key": "cust-5"})
    assert again.id == first.id and len(fake.customers) == 1
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    _checkout(client, first.id)  # the library makes up a key itself
    assert fake.idempotency_keys["/v1/customers"] == ["cust-5", "cust-5"]
    assert all(fake.idempotency_keys["/v1/checkout/sessions"])

    with pytest.raises(stripe.IdempotencyError) as conflict:
        client.v1.customers.create(params={"email": "other@b.test"},
                                   options={"idempotency_key": "cust-5"})
    assert conflict.value.http_status == 400
    assert conflict.value.error.type == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):  # same key, another endpoint
        client.v1.billing_portal.sessions.create(params={"customer": first.id},
                                                 options={"idempotency_key": "cust-5"})
    assert len(fake.customers) == 1


def test_a_wrong_or_missing_key_is_an_authentication_error(fake):
    with pytest.raises(stripe.AuthenticationError) as wrong:
        _client(fake, "sk_test_wrong").v1.customers.create(params={"email": "a@b.test"})
    assert wrong.value.http_status == 401
    assert wrong.value.json_body["error"]["type"] == "invalid_request_error"
    assert not fake.customers


def test_validation_errors_are_stripes_400s(fake):
    client = _client(fake)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [
            {"quantity": 1, "price_data": {"currency": "usd", "product_data": {"name": "x"}}}]})
    assert missing.value.param == "line_items[0][price_data][unit_amount]"
    with pytest.raises(stripe.InvalidRequestError) as no_customer:
        _checkout(client, "cus_missing")
    assert no_customer.value.code == "resource_missing" and no_customer.value.param == "customer"
    price = fake.add_price(1200, "eur")
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "line_items": [{"price": price, "quantity": 3}],
        "success_url": "http://testserver/ok"})
    assert (session.amount_total, session.currency, session.invoice) == (3600, "eur", None)
    fake.complete_checkout(session.id)
    assert fake.session(session.id)["invoice"] is None  # invoice_creation was not enabled


def test_injected_failures(fake):
    client = _client(fake)
    fake.fail_next(1, 429, retry_after=3)
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.customers.create(params={"email": "a@b.test"})
    assert limited.value.headers["Retry-After"] == "3"
    fake.fail_next(2, 500)
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"email": "a@b.test"})
    fake.fail_next(0)  # clears the one left
    assert client.v1.customers.create(params={"email": "a@b.test"}).id
    # Retries with the library's own key: two 500s, then the one customer.
    fake.fail_next(2, 500)
    retried = _client(fake, max_network_retries=2).v1.customers.create(params={"email": "r@b.test"})
    keys = fake.idempotency_keys["/v1/customers"][-3:]
    assert len(set(keys)) == 1 and retried.email == "r@b.test"
    # Made on Stripe, answer lost: the retry (same key) gets the same customer.
    fake.fail_next(1, 503, applied=True)
    lost = {"params": {"email": "lost@b.test"}, "options": {"idempotency_key": "k-lost"}}
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(**lost)
    assert client.v1.customers.create(**lost).id in fake.customers
    assert [c["email"] for c in fake.customers.values()].count("lost@b.test") == 1


def test_signed_events_verify_like_stripes(fake):
    client = _client(fake)
    customer = client.v1.customers.create(params={"email": "a@b.test"})
    event = fake.complete_checkout(_checkout(client, customer.id).id)
    body, header = fake.signed(event)
    assert isinstance(body, bytes) and json.loads(body) == event
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 5 and ",v1=" in header
    verified = stripe.Webhook.construct_event(body, header, fake.webhook_secret)
    assert verified.id == event["id"] and verified.type == "checkout.session.completed"
    assert verified.data.object.payment_status == "paid"
    # The same event twice verifies twice (it is the handler's job to apply it once).
    assert stripe.Webhook.construct_event(*fake.signed(event), fake.webhook_secret).id == event["id"]

    _, forged = fake.signed(event, secret="whsec_not_ours")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, forged, fake.webhook_secret)
    late_body, late = fake.signed(event, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(late_body, late, fake.webhook_secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):  # the default tolerance is 300 s too
        stripe.Webhook.construct_event(late_body, late, fake.webhook_secret)
    with pytest.raises(stripe.SignatureVerificationError):  # a body edited after signing
        stripe.Webhook.construct_event(body.replace(b"paid", b"PAID"), header,
                                       fake.webhook_secret)

    refunded = fake.refund_checkout(event["data"]["object"]["id"])
    assert refunded["type"] == "charge.refunded"
    assert refunded["data"]["object"]["refunded"] is True
    custom = fake.event("invoice.paid", {"id": "in_x", "object": "invoice"})
    assert custom["type"] == "invoice.paid" and custom["data"]["object"]["id"] == "in_x"
