"""Stripe and Replicate webhooks replayed, reordered and concurrent, with exactly-once effects.

Each delivery is posted several times, in a shuffled order, from several threads at once
(the live server and the test client both run every request in its own database
connection): photos, e-mails, credits and ledger lines come out as if each event had come
once, in order.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from billing.models import CheckoutSession, CreditEntry
from billing.services import credit_balance, credits_adjust
from generation.backends.replicate_api import webhook_sign
from generation.models import Candidate, GenerationJob, ReplicateWebhook
from generation.services.jobs import job_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Kind = CreditEntry.Kind


def _concurrently(calls, *, threads: int = 6) -> list:
    """Run every call at once from a pool; each thread closes its own DB connection."""
    barrier = threading.Barrier(min(threads, len(calls)))

    def run(call):
        try:
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, calls))


# --- Replicate --------------------------------------------------------------------------


def test_replicate_webhooks_replayed_reordered_and_concurrent_make_each_photo_once(
        ready_member, fake_replicate, live_server, settings):
    settings.BILLING_ENABLED = True
    settings.CREDITS_PER_JOB = 1
    credits_adjust(company=ready_member.company, amount=1, reason="test", actor=None)
    fake_replicate.mode = "manual"
    fake_replicate.drop_webhooks = True  # this test delivers them itself
    job = job_create(company=ready_member.company, membership=ready_member,
                     requested_by=ready_member.user)
    jobs = GenerationJob.objects.for_company(job.company_id)
    assert fake_replicate.wait_for(
        lambda: len(jobs.get(pk=job.pk).external_ids) == len(job.seeds), timeout=30)
    started = {p: fake_replicate.prediction(p) for p in fake_replicate.prediction_ids()}
    for prediction_id in started:
        fake_replicate.complete(prediction_id)
    completed = {p: fake_replicate.prediction(p) for p in started}

    deliveries = []
    for index, prediction_id in enumerate(started):
        for event, body in (("start", started[prediction_id]),
                            ("completed", completed[prediction_id])):
            raw = json.dumps(body).encode()
            webhook_id = f"msg_{index}_{event}"
            # Replicate retries a delivery with the same id; each goes out three times.
            deliveries += [(webhook_id, raw)] * 3
    random.Random(18).shuffle(deliveries)
    url = live_server.url + reverse("replicate_webhook")

    def post(webhook_id: str, raw: bytes):
        def call() -> int:
            stamp = int(time.time())
            return httpx.post(url, content=raw, timeout=30, headers={
                "content-type": "application/json", "webhook-id": webhook_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": webhook_sign(webhook_id=webhook_id, timestamp=stamp,
                                                  body=raw, secret=fake_replicate.webhook_secret),
            }).status_code
        return call

    statuses = _concurrently([post(*d) for d in deliveries])
    assert set(statuses) == {200}
    deadline = time.monotonic() + 30
    while jobs.get(pk=job.pk).status != GenerationJob.Status.READY:
        assert time.monotonic() < deadline, jobs.get(pk=job.pk).status
        time.sleep(0.1)

    seeds = sorted(Candidate.objects.for_company(job.company_id).filter(job=job)
                   .values_list("seed", flat=True))
    assert seeds == sorted(job.seeds)  # one photo per seed, none twice
    assert ReplicateWebhook.objects.count() == 2 * len(job.seeds)  # each delivery kept once
    assert [m.subject for m in mail.outbox].count(
        next(m.subject for m in mail.outbox if "ready to choose" in m.subject)) == 1
    ledger = list(CreditEntry.objects.for_company(job.company_id).filter(job_ref=job.pk)
                  .values_list("kind", flat=True))
    assert sorted(ledger) == sorted([Kind.RESERVATION, Kind.CONSUMPTION])  # charged once
    assert fake_replicate.creates == len(job.seeds)


# --- Stripe -----------------------------------------------------------------------------


def _deliver(body: bytes, header: str) -> int:
    return Client(raise_request_exception=False).post(
        "/webhooks/stripe/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header).status_code


@pytest.mark.parametrize("order", [1, 2, 3])
def test_stripe_money_events_replayed_reordered_and_concurrent_move_credits_once(
        tenant_a, fake_stripe, settings, order):
    settings.BILLING_ENABLED = True
    settings.CREDIT_PACKS = [(10, 39000)]
    response = tenant_a.client_for(tenant_a.admin).post(
        reverse("billing:buy", kwargs={"company_slug": tenant_a.company.slug}),
        {"offer": "pack-10", "request_key": "form-1"})
    assert response.status_code == 302
    session_id = CheckoutSession.objects.for_company(tenant_a.company).latest("pk").session_id
    stripe = fake_stripe
    # What happened at Stripe, in order: paid, two partial refunds (3 and 1 credits' worth),
    # the second refund failed (its credit comes back), a dispute opened and was won.
    events = [stripe.complete_checkout(session_id),
              stripe.refund_checkout(session_id, 3900 * 3),
              stripe.refund_checkout(session_id, 3900)]
    second_refund = list(stripe.refunds)[-1]
    events.append(stripe.fail_refund(second_refund))
    dispute = stripe.dispute_checkout(session_id, amount=3900 * 6)
    events += [dispute, stripe.close_dispute(dispute["data"]["object"]["id"], won=True)]

    # Delivered twice each (one copy late, freshly signed), shuffled, from six threads.
    copies = [stripe.signed(event) for event in events for _ in range(2)]
    random.Random(order).shuffle(copies)
    assert set(_concurrently([lambda c=c: _deliver(*c) for c in copies])) == {200}
    # And once more, each, one after another, newest first.
    for event in reversed(events):
        assert _deliver(*stripe.signed(event)) == 200

    company = tenant_a.company
    assert list(CreditEntry.objects.for_company(company).filter(kind=Kind.PURCHASE)
                .values_list("amount", flat=True)) == [10]
    # 10 bought, 3 refunded for good; the failed refund and the won dispute net to nothing.
    assert credit_balance(company=company) == 7
    record = CheckoutSession.objects.for_company(company).get(session_id=session_id)
    assert record.status == CheckoutSession.Status.PAID
