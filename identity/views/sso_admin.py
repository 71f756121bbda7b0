"""The company's SSO page: the identity provider, verified domains, enforcement."""

from __future__ import annotations

import requests
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import form_page, object_or_404, reported
from teams.decorators import company_view

from .. import domains as domain_services
from .. import http
from ..forms import DomainForm, SsoConnectionForm
from ..models import EmailDomain, SsoConnection
from ..sso import config
from ..sso.services import ConnectionInput, connection_enforce, connection_get, connection_save


def _initial(connection: SsoConnection | None) -> dict:
    if connection is None:
        return {"protocol": SsoConnection.Protocol.OIDC}
    mapping = connection.attribute_mapping or {}
    return {
        "protocol": connection.protocol, "enabled": connection.enabled,
        "jit_join": connection.jit_join, "oidc_issuer": connection.oidc_issuer,
        "oidc_client_id": connection.oidc_client_id,
        "saml_metadata_url": connection.saml_metadata_url,
        "saml_idp_entity_id": connection.saml_idp_entity_id,
        "saml_idp_sso_url": connection.saml_idp_sso_url,
        "saml_idp_x509_cert": connection.saml_idp_x509_cert,
        "email_attribute": mapping.get("email", ""),
        "first_name_attribute": mapping.get("first_name", ""),
        "last_name_attribute": mapping.get("last_name", ""),
    }


def _metadata(request: HttpRequest, data: dict) -> dict:
    """IdP fields from an uploaded metadata file or the metadata URL, when given."""
    upload = request.FILES.get("saml_metadata_file")
    xml = ""
    if upload is not None:
        if upload.size > 1_000_000:
            raise ServiceError("The metadata file is too large.")
        xml = upload.read().decode("utf-8", errors="replace")
    elif data.get("saml_metadata_url"):
        try:
            status, xml = http.fetch_text(data["saml_metadata_url"])
        except http.UrlRefused as exc:
            raise ServiceError(str(exc)) from exc
        except requests.RequestException as exc:
            raise ServiceError("The metadata URL could not be fetched.") from exc
        if status != 200:
            raise ServiceError(f"The metadata URL answered {status}.")
    if not xml:
        return {}
    parsed = config.saml_metadata_parse(xml)
    return {"saml_idp_entity_id": parsed["entity_id"], "saml_idp_sso_url": parsed["sso_url"],
            "saml_idp_x509_cert": parsed["x509_cert"]}


def _provider_details(request: HttpRequest, company) -> dict:
    return {
        "oidc_redirect_uri": request.build_absolute_uri(reverse(
            "openid_connect_callback", kwargs={"provider_id": config.oidc_provider_id(company)})),
        "saml_acs": request.build_absolute_uri(reverse("saml_acs", args=[company.slug])),
        "saml_entity_id": request.build_absolute_uri(reverse("saml_metadata",
                                                             args=[company.slug])),
        "sign_in_url": request.build_absolute_uri(reverse("identity:sso_company",
                                                          kwargs={"slug": company.slug})),
    }


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def sso_settings(request: HttpRequest) -> HttpResponse:
    company, actor = request.company, request.membership
    connection = connection_get(company=company)
    action = request.POST.get("action", "save")
    if request.method == "POST" and action in ("enforce", "unenforce"):
        enforce = action == "enforce"
        done = ("Enforced SSO is on: people at your verified domains sign in through your "
                "identity provider; the owner keeps a password." if enforce
                else "Enforced SSO is off.")
        with reported(request, success=done):
            connection_enforce(company=company, actor=actor, enforced=enforce, request=request)
        return redirect("identity:sso_settings", company_slug=company.slug)
    form = SsoConnectionForm(request.POST or None, request.FILES or None,
                             initial=_initial(connection))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if data["protocol"] == SsoConnection.Protocol.SAML:
                data.update(_metadata(request, data))
            data.pop("saml_metadata_file", None)
            connection = connection_save(company=company, actor=actor,
                                         data=ConnectionInput(**data), request=request)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "SSO settings saved.")
            return redirect("identity:sso_settings", company_slug=company.slug)
    return form_page(request, "identity/sso_settings.html", {
        "form": form, "connection": connection, "domain_form": DomainForm(),
        "domains": domain_services.domain_list(company=company),
        "verified": domain_services.verified_domains(company=company),
        "details": _provider_details(request, company),
        "txt_prefix": domain_services.TXT_PREFIX,
        "txt_value_prefix": domain_services.TXT_VALUE_PREFIX,
        "file_path": domain_services.FILE_PATH,
    })


@require_POST
@company_view(role="admin")
def domain_add(request: HttpRequest) -> HttpResponse:
    form = DomainForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a domain and choose how to prove it is yours.")
    else:
        with reported(request, success="Domain added. Publish the proof below, then verify."):
            domain_services.domain_add(company=request.company, actor=request.membership,
                                       domain=form.cleaned_data["domain"],
                                       method=form.cleaned_data["method"], request=request)
    return redirect("identity:sso_settings", company_slug=request.company.slug)


def _domain(request: HttpRequest, pk: int) -> EmailDomain:
    return object_or_404(EmailDomain.objects.for_company(request.company).filter(pk=pk).first(),
                         "No such domain.")


@require_POST
@company_view(role="admin")
def domain_verify(request: HttpRequest, pk: int) -> HttpResponse:
    domain = _domain(request, pk)
    try:
        domain_services.domain_verify(company=request.company, actor=request.membership,
                                      domain=domain, request=request)
    except ServiceError as error:
        messages.error(request, f"{domain.domain} is not verified yet: {error}")
    else:
        messages.success(request, f"{domain.domain} is verified.")
    return redirect("identity:sso_settings", company_slug=request.company.slug)


@require_POST
@company_view(role="admin")
def domain_remove(request: HttpRequest, pk: int) -> HttpResponse:
    domain = _domain(request, pk)
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Remove the domain {domain.domain}?", button="Yes, remove it",
            cancel_url=reverse("identity:sso_settings", args=[request.company.slug]),
            consequences=["Addresses at this domain are no longer known to be this company's.",
                          "If it was the last verified domain, single sign-on stops being "
                          "enforced."])
    with reported(request, success=f"{domain.domain} removed."):
        domain_services.domain_remove(company=request.company, actor=request.membership,
                                      domain=domain, request=request)
    return redirect("identity:sso_settings", company_slug=request.company.slug)
