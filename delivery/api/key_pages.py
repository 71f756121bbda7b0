"""Admins create and revoke the company's API keys; a new key's secret is shown once."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import form_page, object_or_404
from teams.decorators import company_view

from ..models import ApiKey
from .keys import api_key_create, api_key_revoke


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="What uses this key", max_length=120,
                           help_text="For example: “HR directory sync”.")
    scope = forms.ChoiceField(label="Access", choices=ApiKey.Scope.choices,
                              initial=ApiKey.Scope.READ)
    expires_on = forms.DateField(label="Expires on (optional)", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def api_keys(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = ApiKeyForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        expires = form.cleaned_data["expires_on"]
        expires_at = (timezone.make_aware(datetime.combine(expires, time.max))
                      if expires else None)
        try:
            key, secret = api_key_create(company=company, actor=request.membership,
                                         name=form.cleaned_data["name"],
                                         scope=form.cleaned_data["scope"],
                                         expires_at=expires_at)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Key “{key.name}” created. Copy it now: it is not "
                                      "shown again.")
            form = ApiKeyForm()
    keys = ApiKey.objects.for_company(company).select_related("created_by")
    return form_page(request, "delivery/api_keys.html",
                     {"form": form, "keys": keys, "secret": secret, "now": timezone.now()})


@require_POST
@company_view(role="admin")
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    key = object_or_404(ApiKey.objects.for_company(request.company).filter(pk=pk).first(),
                        "No such key.")
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Revoke the API key “{key.name}” ({key.prefix}…)?",
            button="Yes, revoke the key",
            cancel_url=reverse("teams:api_keys", args=[request.company.slug]),
            consequences=["Every program that uses it is refused from the next request on.",
                          "A revoked key cannot be turned back on; you can make a new one."])
    api_key_revoke(company=request.company, actor=request.membership, key=key)
    messages.success(request, f"Key {key.prefix}… revoked; it stops working at once.")
    return redirect("teams:api_keys", company_slug=request.company.slug)
