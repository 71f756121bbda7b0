"""Admins connect the company's directories and see, per person, whether their approved
headshot reached each one."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ServiceError
from core.inputs import InputInvalid, json_loads_bounded
from core.pages import form_page
from core.pagination import BadCursor, bad_cursor_response, keyset_page
from core.rows import local_minute
from teams.decorators import company_view

from ..models import DirectoryConnection, DirectorySync
from .services import directory_connection_save, directory_sync_all

Provider = DirectoryConnection.Provider
_PROVIDERS = dict(Provider.choices)
_SYNC_STATUSES = dict(DirectorySync.Status.choices)


class ConnectionForm(forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices)
    enabled = forms.BooleanField(required=False, initial=True, label="Send photos")
    tenant_id = forms.CharField(required=False, label="Entra: tenant id")
    client_id = forms.CharField(required=False, label="Entra: application (client) id")
    client_secret = forms.CharField(required=False, label="Entra: client secret",
                                    widget=forms.PasswordInput)
    service_account_json = forms.CharField(
        required=False, label="Google: service account key (JSON)",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="With domain-wide delegation for the admin.directory.user scope.")
    admin_email = forms.EmailField(required=False, label="Google: admin to act as")
    scim_token = forms.CharField(required=False, label="Slack: SCIM token",
                                 widget=forms.PasswordInput)

    REQUIRED = {Provider.ENTRA: ("tenant_id", "client_id", "client_secret"),
                Provider.GOOGLE: ("service_account_json", "admin_email"),
                Provider.SLACK: ("scim_token",)}

    def clean(self) -> dict:
        data = super().clean()
        provider = data.get("provider")
        for name in self.REQUIRED.get(provider, ()):
            if not data.get(name):
                self.add_error(name, "Required for this directory.")
        if provider == Provider.GOOGLE and data.get("service_account_json"):
            try:
                info = json_loads_bounded(data["service_account_json"])
                assert isinstance(info, dict) and info.get("private_key")
            except (InputInvalid, AssertionError):
                self.add_error("service_account_json", "Paste the whole JSON key file.")
            else:
                data["service_account_info"] = info
        return data

    def config(self) -> dict:
        data = self.cleaned_data
        if data["provider"] == Provider.ENTRA:
            return {k: data[k] for k in ("tenant_id", "client_id", "client_secret")}
        if data["provider"] == Provider.GOOGLE:
            return {"service_account_info": data["service_account_info"],
                    "admin_email": data["admin_email"]}
        return {"scim_token": data["scim_token"]}


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def directory(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = directory_connection_save(
                company=company, actor=request.membership,
                provider=form.cleaned_data["provider"], config=form.config(),
                enabled=form.cleaned_data["enabled"])
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{connection.get_provider_display()} saved. Approved "
                                      "headshots are sent there from now on.")
            return redirect("generation:directory", company_slug=company.slug)
    connections = DirectoryConnection.objects.for_company(company).order_by("provider")
    try:  # latest changes first, 50 a page, each page one index range (core.pagination)
        syncs = keyset_page(DirectorySync.objects.for_company(company).values(
            "id", "updated_at", "membership__user__email", "connection__provider", "status",
            "attempts", "last_error"), key="-updated_at", params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    # The rows' strings made once here, not by the template per row (core/rows.py says why).
    syncs.items = [{**row, "provider": _PROVIDERS.get(row["connection__provider"],
                                                       row["connection__provider"]),
                    "status_label": _SYNC_STATUSES.get(row["status"], row["status"]),
                    "updated": local_minute(row["updated_at"])} for row in syncs.items]
    return form_page(request, "delivery/directory.html",
                     {"form": form, "connections": connections, "syncs": syncs})


@require_POST
@company_view(role="admin")
def directory_sync_now(request: HttpRequest) -> HttpResponse:
    try:
        count = directory_sync_all(company=request.company, actor=request.membership)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{count} photo update(s) queued.")
    return redirect("generation:directory", company_slug=request.company.slug)
