"""An admin's invitation pages: inviting by address or CSV, reminding, revoking, sending
what was saved, and shareable invite links."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import form_page, object_or_404, reported

from ..decorators import company_view
from ..forms import CsvImportForm, InviteLinkForm, InviteManyForm
from ..selectors import invitation_get, invite_link_get, invite_link_list
from ..services import invitations as invitation_services
from ..services.csv_import import (
    CsvImportInvalid,
    csv_import_check,
    csv_import_run,
    csv_template,
)
from .common import back_to


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteManyForm(request.POST or None, company=request.company)
    outcomes = None
    if request.method == "POST" and form.is_valid():
        try:
            outcomes = invitation_services.invitations_create_many(
                company=request.company, created_by=request.user,
                text=form.cleaned_data["emails"], team=form.cleaned_data["team"],
                send=not form.cleaned_data["send_later"],
            )
        except ServiceError as error:
            form.add_error("emails", str(error))
        else:
            invited = sum(1 for o in outcomes if o.ok)
            if invited:
                messages.success(request, f"{invited} invitation(s) created.")
            if invited == len(outcomes):
                return back_to(request, "dashboard")
    return render(
        request, "teams/invite.html", {"form": form, "outcomes": outcomes},
        status=400 if form.errors or (outcomes and not all(o.ok for o in outcomes)) else 200,
    )


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def csv_import(request: HttpRequest) -> HttpResponse:
    form = CsvImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            if request.POST.get("action") == "check":
                result = csv_import_check(company=request.company, data=data)
            else:
                result = csv_import_run(
                    company=request.company, created_by=request.user, data=data,
                    send_now=not form.cleaned_data["send_later"],
                )
                count = len(result.rows)
                messages.success(request, ngettext("Imported %(n)d person.",
                                                   "Imported %(n)d people.", count) % {"n": count})
                return back_to(request, "dashboard")
        except CsvImportInvalid as error:
            result = error.result
    failed = bool(form.errors or (result and not result.ok))
    return render(request, "teams/csv_import.html", {"form": form, "result": result},
                  status=400 if failed else 200)


@require_GET
@company_view(role="admin")
def csv_import_template(request: HttpRequest) -> HttpResponse:
    """The CSV to fill in, with its columns and one example row."""
    response = HttpResponse(csv_template(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="likeness-people-template.csv"'
    return response


@require_POST
@company_view(role="admin")
def invitation_remind(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = object_or_404(invitation_get(company=request.company, pk=pk))
    with reported(request, success=f"Sent the invitation to {invitation.email} again."):
        invitation_services.invitation_send(
            company=request.company, invitation=invitation,
            reminder=invitation.sent_at is not None,
        )
    return back_to(request, "dashboard")


@require_POST
@company_view(role="admin")
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = object_or_404(invitation_get(company=request.company, pk=pk))
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Withdraw the invitation for {invitation.email}?",
            button="Yes, withdraw it",
            cancel_url=reverse("teams:dashboard", args=[request.company.slug]),
            consequences=["The link in the e-mail they were sent stops working.",
                          "You can invite them again later."])
    with reported(request, success=f"The invitation for {invitation.email} was withdrawn."):
        invitation_services.invitation_revoke(company=request.company, invitation=invitation)
    return back_to(request, "dashboard")


@require_POST
@company_view(role="admin")
def invitations_send(request: HttpRequest) -> HttpResponse:
    count = invitation_services.invitations_send_pending(company=request.company)
    messages.success(request, f"Sent {count} saved invitation(s).")
    return back_to(request, "dashboard")


# --- Invite links ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def invite_links(request: HttpRequest) -> HttpResponse:
    form = InviteLinkForm(request.POST or None, company=request.company)
    new_url = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_url = invitation_services.invite_link_create(
                company=request.company, created_by=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            form = InviteLinkForm(company=request.company)
    return form_page(
        request, "teams/invite_links.html",
        {"form": form, "links": invite_link_list(company=request.company), "new_url": new_url,
         "now": timezone.now()},
    )


@require_POST
@company_view(role="admin")
def invite_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link = object_or_404(invite_link_get(company=request.company, pk=pk))
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Revoke “{link}”?", button="Yes, revoke the link",
            cancel_url=reverse("teams:invite_links", args=[request.company.slug]),
            consequences=["Anyone who has the link can no longer join with it.",
                          "People who already joined stay members."])
    invitation_services.invite_link_revoke(company=request.company, link=link)
    messages.success(request, f"“{link}” no longer works.")
    return back_to(request, "invite_links")
