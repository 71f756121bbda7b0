"""The company's provisioning page: SCIM tokens (shown once) and provisioning settings."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import object_or_404
from teams.decorators import company_view

from ..audit import audit_record
from ..forms import ScimSettingsForm, ScimTokenForm
from ..models import ScimGroup, ScimToken, ScimUser, SecuritySettings
from ..scim.auth import token_create, token_list, token_revoke
from ..twofactor.services import security_settings


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def scim_settings(request: HttpRequest) -> HttpResponse:
    company, actor = request.company, request.membership
    settings_row = security_settings(company=company)
    action = request.POST.get("action", "token") if request.method == "POST" else ""
    token_form = ScimTokenForm(request.POST if action == "token" else None)
    settings_form = ScimSettingsForm(
        request.POST if action == "settings" else None,
        initial={"scim_send_invitations": settings_row.scim_send_invitations})
    secret = None
    if request.method == "POST" and action == "settings" and settings_form.is_valid():
        value = settings_form.cleaned_data["scim_send_invitations"]
        if value != settings_row.scim_send_invitations:
            SecuritySettings.objects.update_or_create(
                company=company, defaults={"scim_send_invitations": value,
                                           "updated_by": actor.user, "updated_at": timezone.now()})
            audit_record(company=company, action="scim.settings_updated", actor=actor.user,
                         details={"send_invitations": value}, request=request)
        messages.success(request, "Provisioning settings saved.")
        return redirect("identity:scim_settings", company_slug=company.slug)
    if request.method == "POST" and action == "token" and token_form.is_valid():
        try:
            _, secret = token_create(company=company, actor=actor,
                                     name=token_form.cleaned_data["name"], request=request)
        except ServiceError as error:
            token_form.add_error(None, str(error))
        else:
            messages.success(request, "Token created. Copy it now: it is not shown again.")
            token_form = ScimTokenForm()
    return render(request, "identity/scim_settings.html", {
        "token_form": token_form, "settings_form": settings_form, "secret": secret,
        "tokens": token_list(company=company),
        "base_url": request.build_absolute_uri(reverse("scim:root")),
        "users": ScimUser.objects.for_company(company).count(),
        "active_users": ScimUser.objects.for_company(company).filter(active=True).count(),
        "groups": ScimGroup.objects.for_company(company).count(),
    }, status=400 if token_form.errors else 200)


@require_POST
@company_view(role="admin")
def scim_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = object_or_404(ScimToken.objects.for_company(request.company).filter(pk=pk).first(),
                          "No such token.")
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Revoke the SCIM token “{token.name}”?",
            button="Yes, revoke the token",
            cancel_url=reverse("identity:scim_settings", args=[request.company.slug]),
            consequences=["Your identity provider can no longer add, change or remove people "
                          "with it, from the next request on."])
    token_revoke(company=request.company, actor=request.membership, token=token, request=request)
    messages.success(request, f"Token “{token.name}” revoked: it stops working at once.")
    return redirect("identity:scim_settings", company_slug=request.company.slug)
