"""Public SSO pages: "sign in with your company's identity provider", by e-mail address
(the domain finds the company) or by the company's own SSO address."""

from __future__ import annotations

import logging

import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from onelogin.saml2.errors import OneLogin_Saml2_Error

from core.inputs import safe_next
from core.pages import form_page
from core.rls import company_scope
from teams.models import Company

from ..domains import company_for_verified_domain
from ..models import SsoConnection
from . import config

log = logging.getLogger(__name__)


class SsoEmailForm(forms.Form):
    email = forms.EmailField(label="Work e-mail",
                             widget=forms.EmailInput(attrs={"autocomplete": "email",
                                                            "autofocus": True}))


def _connection(company: Company) -> SsoConnection | None:
    with company_scope(company.pk):  # the public sign-in page of this company
        return SsoConnection.objects.for_company(company).filter(enabled=True).first()


def _redirect_to_provider(request: HttpRequest, connection: SsoConnection) -> HttpResponse:
    company = connection.company
    adapter = get_adapter(request)
    try:
        if connection.protocol == SsoConnection.Protocol.OIDC:
            provider = adapter.get_provider(request, config.oidc_provider_id(company))
        else:
            provider = adapter.get_provider(request, "saml", client_id=company.slug)
    except SocialApp.DoesNotExist as exc:
        raise Http404("No such sign-in.") from exc
    try:
        return provider.redirect(request, AuthProcess.LOGIN, next_url=safe_next(request) or None)
    except (requests.RequestException, OAuth2Error, OneLogin_Saml2_Error, ValueError) as exc:
        return provider_unreachable(request, company, exc)


def provider_unreachable(request: HttpRequest, company: Company | None,
                         exc: Exception) -> HttpResponse:
    log.warning("identity provider of %s failed: %s", company, exc)
    return render(request, "identity/sso_error.html", {
        "sso_company": company,
        "message": "Your company's identity provider could not be reached or answered "
                   "something we cannot use. Try again in a moment; if it persists, ask your "
                   "admin to check the SSO settings."}, status=502)


@require_http_methods(["GET", "POST"])
def sso_start(request: HttpRequest) -> HttpResponse:
    form = SsoEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        domain = form.cleaned_data["email"].rsplit("@", 1)[1].lower()
        company = company_for_verified_domain(domain)
        connection = _connection(company) if company else None
        if connection is not None:
            return _redirect_to_provider(request, connection)
        form.add_error("email", "No company has set up single sign-on for this address. "
                                "Sign in with your password or an e-mailed link instead.")
    return form_page(request, "identity/sso_start.html", {"form": form, "next": safe_next(request)})


@require_http_methods(["GET", "POST"])
def sso_company(request: HttpRequest, slug: str) -> HttpResponse:
    company = Company.objects.filter(slug=slug, closed_at__isnull=True).first()
    connection = _connection(company) if company else None
    if connection is None:
        raise Http404("No such sign-in.")
    if request.method == "POST":
        return _redirect_to_provider(request, connection)
    return render(request, "identity/sso_company.html",
                  {"sso_company": company, "connection": connection, "next": safe_next(request)})
