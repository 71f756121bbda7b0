"""The admin's billing page: balance, ledger, invoices, buying credits."""

from __future__ import annotations

import logging
import re
import secrets

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import ServiceError
from core.pagination import BadCursor, bad_cursor_response, keyset_page
from core.rows import local_minute
from teams.decorators import company_view

from . import stripe_api
from .models import CheckoutSession, CreditEntry, StripeCustomer
from .services import (
    billing_enabled,
    checkout_start,
    checkout_sync,
    credit_balance,
    free_preview_available,
    offer_for,
    offers,
    portal_url,
)

log = logging.getLogger(__name__)
_REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KINDS = dict(CreditEntry.Kind.choices)


@require_GET
@company_view(role="admin")
def billing(request: HttpRequest) -> HttpResponse:
    company = request.company
    returned = request.GET.get("checkout", "")
    if returned.startswith("cs_"):
        # Back from Checkout: credit it now if Stripe says it is paid (the webhook may lag);
        # only a session this company opened is looked at.
        try:
            paid = checkout_sync(session_id=returned, company=company) or \
                CheckoutSession.objects.for_company(company).filter(
                    session_id=returned, status=CheckoutSession.Status.PAID).exists()
            if paid:  # credited now, or already by the webhook
                messages.success(request, "Thank you: your credits are in.")
            else:
                messages.info(request, "Your payment is being confirmed; credits appear here "
                                       "as soon as Stripe confirms it.")
        except (LookupError, stripe_api.StripeError):
            messages.info(request, "Your payment is being confirmed.")
        return redirect("billing:billing", company_slug=company.slug)
    if returned == "cancelled":
        messages.info(request, "No payment was made.")
    invoices, invoices_error = [], ""
    customer = StripeCustomer.objects.for_company(company).first()
    if customer and billing_enabled():
        try:
            invoices = stripe_api.invoices_list(customer.customer_id)
        except stripe_api.StripeError as error:
            invoices_error = str(error)
    try:  # newest first, 50 a page, each page one index range (core.pagination)
        ledger = keyset_page(CreditEntry.objects.for_company(company).values(
            "id", "created_at", "kind", "amount", "reason"), key="-created_at",
            params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    # The rows' strings made once here, not by the template per row (core/rows.py says why).
    ledger.items = [{**row, "when": local_minute(row["created_at"]),
                     "what": _KINDS.get(row["kind"], row["kind"]),
                     "credits": f"{row['amount']:+d}"} for row in ledger.items]
    return render(request, "billing/billing.html", {
        "enabled": billing_enabled(), "balance": credit_balance(company=company),
        "ledger": ledger, "offers": offers(),
        "seat_price": settings.CREDIT_SEAT_PRICE_CENTS, "currency": settings.BILLING_CURRENCY,
        "invoices": invoices, "invoices_error": invoices_error,
        "free_preview": billing_enabled() and free_preview_available(company=company),
        "pending": CheckoutSession.objects.for_company(company).filter(
            status=CheckoutSession.Status.OPEN).order_by("-created_at")[:5],
        "failed": CheckoutSession.objects.for_company(company).filter(
            status=CheckoutSession.Status.FAILED).order_by("-created_at")[:3],
        # One key per page shown: each form sent from it opens one Checkout per amount.
        "request_key": secrets.token_urlsafe(16),
    })


@require_POST
@company_view(role="admin")
def buy(request: HttpRequest) -> HttpResponse:
    company = request.company
    seats = request.POST.get("seats", "")
    try:
        offer = offer_for(key=request.POST.get("offer", ""),
                          seats=int(seats) if seats.isascii() and seats.isdigit()
                          and len(seats) <= 6 else None)
        # The form's one-time key: a double click opens one Checkout, not two. Without one
        # (or a garbled one) every submission is its own.
        request_key = request.POST.get("request_key", "")
        if not _REQUEST_KEY.fullmatch(request_key):
            request_key = secrets.token_urlsafe(16)
        url = checkout_start(company=company, actor=request.membership, offer=offer,
                             request_key=request_key, site_url=settings.SITE_URL)
    except (ServiceError, stripe_api.StripeError) as error:
        messages.error(request, str(error))
        return redirect("billing:billing", company_slug=company.slug)
    return redirect(url)


@require_POST
@company_view(role="admin")
def portal(request: HttpRequest) -> HttpResponse:
    try:
        url = portal_url(company=request.company, actor=request.membership,
                         site_url=settings.SITE_URL)
    except (ServiceError, stripe_api.StripeError) as error:
        messages.error(request, str(error))
        return redirect("billing:billing", company_slug=request.company.slug)
    return redirect(url)
