"""The admin buys headshot credits in a real browser, against the local fake of Stripe:
Billing → a credit pack → Stripe Checkout (a stand-in page for Stripe's hosted one, paid
through the fake) → the signed webhook → back on Billing with the credits and the purchase
in the ledger → the customer portal."""

from __future__ import annotations

import html
import re
import urllib.request

import pytest

from billing.models import CheckoutSession, CreditEntry, StripeCustomer
from billing.services import credit_balance
from generation.demo import demo_seed

from .journeys import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
CHECKOUT = re.compile(r"^https://checkout\.stripe\.com/c/pay/(cs_test_[A-Za-z0-9]+)")
PORTAL = re.compile(r"^https://billing\.stripe\.com/p/session/")


def _stand_in_page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"</head><body style='font-family:sans-serif;max-width:480px;margin:40px auto'>"
            f"<h1>{title}</h1>{body}</body></html>")


def _post_webhook(url: str, body: bytes, signature: str) -> int:
    """Stripe's delivery of an event to our endpoint, over HTTP like Stripe does it."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": signature})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status


def test_admin_buys_credits_through_checkout_and_opens_the_portal(live_server, browser,
                                                                   screenshot, settings, axe,
                                                                   fake_stripe):  # noqa: F811
    demo = demo_seed()
    company = demo.company
    settings.BILLING_ENABLED = True
    settings.CREDIT_PACKS = [(10, 39000), (50, 175000)]
    settings.SITE_URL = live_server.url  # Stripe sends the admin back here
    billing_url = f"{live_server.url}/c/{company.slug}/admin/billing/"

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(20_000)

    # Stripe's hosted pages are on the internet; stand-ins show what the fake knows.
    def checkout_page(route) -> None:
        session = fake_stripe.session(CHECKOUT.match(route.request.url)[1])
        item = fake_stripe.line_items(session["id"])[0]
        success = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        route.fulfill(status=200, content_type="text/html", body=_stand_in_page(
            "Stripe Checkout (stand-in)",
            f"<p data-item>{html.escape(item['description'])}</p>"
            f"<p>Pay <strong data-amount>{session['amount_total']}</strong> "
            f"{session['currency'].upper()} cents</p>"
            f"<p>Status: <span data-status>{session['payment_status']}</span></p>"
            f"<a href='{html.escape(success)}'>"
            "Return to the merchant</a>"))

    def portal_page(route) -> None:
        portal = next(p for p in fake_stripe.portal_sessions.values()
                      if p["url"] == route.request.url)
        route.fulfill(status=200, content_type="text/html", body=_stand_in_page(
            "Stripe customer portal (stand-in)",
            f"<p>Customer <span data-customer>{portal['customer']}</span></p>"
            f"<a href='{html.escape(portal['return_url'])}'>Return to Acme Corporation</a>"))

    context.route(CHECKOUT, checkout_page)
    context.route(PORTAL, portal_page)

    # The owner signs in and opens Billing: no credits yet.
    sign_in(page, url=live_server.url, email="owner@acme.example")
    axe.settled(page)  # the dashboard is scanned before its menu opens over it
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text="Company").click()  # the admin's second-level pages
    nav.get_by_role("link", name="Billing").click()
    page.wait_for_url(billing_url)
    assert page.locator("[data-balance]").inner_text() == "0"
    assert page.get_by_text("Payments are not set up").count() == 0
    assert page.get_by_role("heading", name="Buy credits").is_visible()
    assert page.get_by_text("No invoices yet.").is_visible()
    screenshot(page, "1-billing")

    # A pack of 10: off to Checkout.
    page.get_by_role("button", name=re.compile(r"^10 credits")).click()
    page.wait_for_url(CHECKOUT)
    session_id = CHECKOUT.match(page.url)[1]
    record = CheckoutSession.objects.for_company(company).get(session_id=session_id)
    assert (record.credits, record.amount_cents, record.status) == (10, 39000, "open")
    assert page.locator("[data-amount]").inner_text() == "39000"
    assert page.locator("[data-status]").inner_text() == "unpaid"
    screenshot(page, "2-checkout")

    # The admin pays; Stripe sends the signed webhook and then the admin back.
    event = fake_stripe.complete_checkout(session_id)
    assert _post_webhook(f"{live_server.url}/webhooks/stripe/",
                         *fake_stripe.signed(event)) == 200
    page.get_by_role("link", name="Return to the merchant").click()
    page.wait_for_url(billing_url)  # the ?checkout= return is redirected to the plain page
    assert page.locator("[data-balance]").inner_text() == "10"
    purchase = page.locator("table tbody tr", has_text="Purchase")
    assert purchase.count() == 1
    assert purchase.get_by_text("+10").is_visible()
    assert purchase.get_by_text(session_id).is_visible()
    assert page.get_by_text("No invoices yet.").count() == 0  # the paid session's invoice
    assert page.get_by_text("Waiting for payment").count() == 0
    screenshot(page, "3-paid")
    assert credit_balance(company=company) == 10
    assert list(CreditEntry.objects.for_company(company).values_list("kind", "amount")) == [
        (CreditEntry.Kind.PURCHASE, 10)]

    # The customer portal: invoices, receipts and payment methods.
    page.get_by_role("button", name="Invoices, receipts and payment methods").click()
    page.wait_for_url(PORTAL)
    customer_id = StripeCustomer.objects.for_company(company).get().customer_id
    assert page.locator("[data-customer]").inner_text() == customer_id
    screenshot(page, "4-portal")
    page.get_by_role("link", name="Return to Acme Corporation").click()
    page.wait_for_url(billing_url)
    assert page.locator("[data-balance]").inner_text() == "10"
    context.close()
