"""An admin's pages for the company itself: its teams, its settings, and handing over
ownership."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import form_page, object_or_404
from core.pagination import BadCursor, bad_cursor_response, keyset_page

from ..decorators import company_view
from ..forms import TRANSFER_MATCHES, CompanySettingsForm, TeamForm, TransferForm
from ..selectors import team_get, team_list
from ..services import companies as company_services
from .common import back_to

# --- Teams -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def teams(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            company_services.team_create(
                company=request.company, actor=request.membership, name=form.cleaned_data["name"]
            )
        except ServiceError as error:
            form.add_error("name", str(error))
        else:
            messages.success(request, f"Team “{form.cleaned_data['name']}” created.")
            return back_to(request, "teams")
    try:  # by name, a page at a time (core.pagination); links made once, not per row
        page = keyset_page(team_list(company=request.company), key="name", params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    edit = reverse("teams:team_edit", args=[request.company.slug, 0])[:-2]
    people = reverse("teams:dashboard", args=[request.company.slug])
    rows = [{"name": t.name, "size": t.member_count, "edit_url": f"{edit}{t.pk}/",
             "people_url": f"{people}?team={t.pk}"} for t in page]
    return form_page(request, "teams/teams.html",
                     {"form": form, "teams": rows, "page": page})


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = object_or_404(team_get(company=request.company, pk=pk))
    form = TeamForm(request.POST or None, initial={"name": team.name})
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            if not is_confirmed(request):
                return confirm_page(
                    request, title=f"Delete the team “{team.name}”?",
                    button="Yes, delete the team", keep={"action": "delete"},
                    cancel_url=reverse("teams:team_edit", args=[request.company.slug, team.pk]),
                    consequences=["Its people stay in the company, with no team.",
                                  "The team's own look, if it has one, is deleted; its people "
                                  "get the company's look."])
            company_services.team_delete(company=request.company, actor=request.membership, team=team)
            messages.success(request, f"Team “{team.name}” deleted; its people have no team now.")
            return back_to(request, "teams")
        if form.is_valid():
            try:
                company_services.team_rename(
                    company=request.company, actor=request.membership, team=team,
                    name=form.cleaned_data["name"],
                )
            except ServiceError as error:
                form.add_error("name", str(error))
            else:
                messages.success(request, "Team renamed.")
                return back_to(request, "teams")
    return form_page(request, "teams/team_edit.html", {"form": form, "team": team})


# --- Company settings ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def company_settings(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = CompanySettingsForm(
        request.POST or None,
        initial={"name": company.name, "allowed_domains": ", ".join(company.allowed_domains),
                 "reminder_after_days": company.reminder_after_days,
                 "redo_limit": company.redo_limit,
                 "likeness_threshold": company.likeness_threshold},
    )
    if request.method == "POST" and form.is_valid():
        try:
            company_services.company_settings_update(
                company=company, actor=request.membership, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Settings saved.")
            return back_to(request, "company_settings")
    return form_page(request, "teams/company_settings.html", {"form": form})


@require_http_methods(["GET", "POST"])
@company_view(role="owner")
def ownership_transfer(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    form = TransferForm(request.POST or None, company=request.company,
                        exclude_pk=request.membership.pk, query=query)
    if request.method == "POST" and form.is_valid():
        try:
            company_services.ownership_transfer(
                company=request.company, actor=request.membership,
                new_owner=form.cleaned_data["new_owner"],
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Ownership transferred. You are now an admin.")
            return back_to(request, "dashboard")
    return form_page(request, "teams/ownership_transfer.html",
                     {"form": form, "query": query, "searched": bool(query.strip()),
                      "matches": len(form.fields["new_owner"].widget.choices),
                      "limit": TRANSFER_MATCHES})
