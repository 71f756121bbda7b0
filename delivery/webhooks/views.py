"""Webhook pages for a company's admins: /c/<company_slug>/admin/webhooks/…"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.crypto import last4
from core.errors import ServiceError
from core.pages import form_page, object_or_404, reported
from core.pagination import BadCursor, bad_cursor_response, keyset_page
from core.rows import local_second, path_for_id
from teams.decorators import company_view

from ..models import WebhookDelivery
from .services import (
    EVENT_TYPES,
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_get,
    webhook_endpoint_list,
    webhook_resend,
)


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Address (URL)", max_length=500,
        help_text="Where we send the events, for example https://example.com/hooks/likeness.",
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    events = forms.MultipleChoiceField(
        label="Events", choices=list(EVENT_TYPES.items()), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def webhooks(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = webhook_endpoint_create(
                company=request.company, actor=request.membership, **form.cleaned_data)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            form = WebhookEndpointForm()
    response = form_page(
        request, "delivery/webhooks.html",
        {"form": form, "endpoints": webhook_endpoint_list(company=request.company),
         "created": created, "secret": secret, "event_types": EVENT_TYPES},
    )
    if secret:
        add_never_cache_headers(response)  # the secret is on this page, once
    return response


_DELIVERY_COLUMNS = ("id", "created_at", "event_type", "event_id", "status", "delivered_at",
                     "attempts", "last_status_code", "last_error", "next_attempt_at")
_STATUS_LABELS = dict(WebhookDelivery.Status.choices)
_STATUS_BADGES = {"succeeded": " badge-approved", "failed": " badge-rejected",
                  "pending": " badge-invited"}


def _delivery_row(row: dict, resend: Callable[[int], str]) -> dict:
    status = row["status"]
    return {**row, "created": local_second(row["created_at"]),
            "delivered": local_second(row["delivered_at"]),
            "next_attempt": local_second(row["next_attempt_at"]) if status == "pending" else "—",
            "status_label": _STATUS_LABELS.get(status, status),
            "badge": _STATUS_BADGES.get(status, ""), "resend_url": resend(row["id"])}


@require_GET
@company_view(role="admin")
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = object_or_404(webhook_endpoint_get(company=request.company, pk=pk))
    try:  # newest first, each page one index range (core.pagination)
        deliveries = keyset_page(webhook_delivery_list(company=request.company, endpoint=endpoint)
                                 .values(*_DELIVERY_COLUMNS), key="-created_at",
                                 params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    # The rows' strings made once here, not by the template per row (core/rows.py says why).
    resend = path_for_id("integrations:delivery_resend", request.company.slug)
    deliveries.items = [_delivery_row(row, resend) for row in deliveries.items]
    return render(request, "delivery/webhook_detail.html", {
        "endpoint": endpoint, "deliveries": deliveries,
        "event_types": EVENT_TYPES,
        # Never the secret again after it was shown once: only its last characters.
        "secret_hint": last4(endpoint.secret),
    })


@require_POST
@company_view(role="admin")
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = object_or_404(webhook_endpoint_get(company=request.company, pk=pk))
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Delete the webhook endpoint {endpoint.url}?",
            button="Yes, delete it",
            cancel_url=reverse("integrations:webhook_detail",
                               args=[request.company.slug, endpoint.pk]),
            consequences=["No more events are sent to it.",
                          "Its delivery log is deleted with it."])
    try:
        webhook_endpoint_delete(company=request.company, actor=request.membership,
                                endpoint=endpoint)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("integrations:webhook_detail", company_slug=request.company.slug,
                        pk=endpoint.pk)
    messages.success(request, f"Deleted the webhook endpoint {endpoint.url}.")
    return redirect("integrations:webhooks", company_slug=request.company.slug)


@require_POST
@company_view(role="admin")
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = object_or_404(webhook_delivery_get(company=request.company, pk=pk))
    with reported(request, success=f"Sending {delivery.event_type} ({delivery.event_id}) again."):
        webhook_resend(company=request.company, actor=request.membership, delivery=delivery)
    return redirect("integrations:webhook_detail", company_slug=request.company.slug,
                    pk=delivery.endpoint_id)
