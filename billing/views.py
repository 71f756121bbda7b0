"""The admin's billing page: balance, ledger, invoices, buying credits."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import ServiceError
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
    ledger = Paginator(CreditEntry.objects.for_company(company).select_related("actor"), 50)
    return render(request, "billing/billing.html", {
        "enabled": billing_enabled(), "balance": credit_balance(company=company),
        "ledger": ledger.get_page(request.GET.get("page")), "offers": offers(),
        "seat_price": settings.CREDIT_SEAT_PRICE_CENTS, "currency": settings.BILLING_CURRENCY,
        "invoices": invoices, "invoices_error": invoices_error,
        "free_preview": billing_enabled() and free_preview_available(company=company),
        "pending": CheckoutSession.objects.for_company(company).filter(
            status=CheckoutSession.Status.OPEN).order_by("-created_at")[:5],
    })


@require_POST
@company_view(role="admin")
def buy(request: HttpRequest) -> HttpResponse:
    company = request.company
    seats = request.POST.get("seats", "")
    try:
        offer = offer_for(key=request.POST.get("offer", ""),
                          seats=int(seats) if seats.isdigit() else None)
        # The form's one-time key: a double click opens one Checkout, not two.
        url = checkout_start(company=company, actor=request.membership, offer=offer,
                             request_key=request.POST.get("request_key", "")[:64] or "none",
                             site_url=settings.SITE_URL)
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
