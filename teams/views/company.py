"""Pages inside one company: /c/<company_slug>/…"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.csv_safe import Echo, csv_cell
from core.errors import ServiceError

from ..decorators import company_view
from ..forms import (
    CompanySettingsForm,
    CsvImportForm,
    InviteLinkForm,
    InviteManyForm,
    MemberAddForm,
    MemberEditForm,
    TeamForm,
    TransferForm,
)
from ..models import Membership
from ..selectors import (
    invitation_get,
    invitations_unsent_count,
    invite_link_get,
    invite_link_list,
    member_get,
    member_list,
    member_status_counts,
    team_get,
    team_list,
)
from ..services import companies as company_services
from ..services import invitations as invitation_services
from ..services.auth import member_add_on_behalf
from ..services.csv_import import CsvImportInvalid, csv_import_check, csv_import_run

Status = Membership.Status

NEXT_STEP = {
    Status.INVITED: "Accept your invitation.",
    Status.JOINED: "Read and sign the consent notice, then upload a few selfies.",
    Status.CONSENTED: "Upload 4 to 20 selfies: good light, face the camera, no sunglasses.",
    Status.UPLOADED: "Your selfies are in. Your headshots will be made in your company's look.",
    Status.GENERATING: "Your headshots are being made. We will e-mail you when they are ready.",
    Status.REVIEW: "Your headshots are ready: pick your favourite.",
    Status.APPROVED: "Your headshot is approved. Nothing more to do.",
    Status.WITHDRAWN: "You withdrew your consent; nothing is being processed. You can "
    "give it again at any time.",
}


def _back(request: HttpRequest, name: str, **kwargs: object) -> HttpResponse:
    return redirect(f"teams:{name}", company_slug=request.company.slug, **kwargs)


def _object_or_404(obj):
    if obj is None:
        raise Http404("No such page.")
    return obj


# --- Employee -------------------------------------------------------------------------


@require_GET
@company_view(role="member")
def employee_home(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    return render(
        request, "teams/employee_home.html",
        {"next_step": NEXT_STEP[Status(membership.status)], "steps": Status.choices},
    )


# --- Admin dashboard --------------------------------------------------------------------


def _filters(request: HttpRequest) -> dict:
    team = request.GET.get("team", "")
    status = request.GET.get("status", "")
    return {
        "team_id": int(team) if team.isdigit() else None,
        "no_team": team == "none",
        "status": status if status in Status.values else None,
        "query": request.GET.get("q", "").strip()[:100],
    }


# One page of the people table: a company of 10,000 renders as fast as one of 10.
PEOPLE_PER_PAGE = 50


@require_GET
@company_view(role="admin")
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    members = member_list(company=request.company, **filters)
    page = Paginator(members, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    counts = member_status_counts(
        company=request.company, team_id=filters["team_id"], no_team=filters["no_team"]
    )
    return render(
        request, "teams/dashboard.html",
        {
            "members": page,
            "counts": [(value, label, counts[value]) for value, label in Status.choices],
            "total": sum(counts.values()),
            "teams": team_list(company=request.company),
            "filters": filters,
            "statuses": Status.choices,
            "unsent": invitations_unsent_count(company=request.company),
            "querystring": query.urlencode(),
        },
    )


@require_GET
@company_view(role="admin")
def members_csv(request: HttpRequest) -> StreamingHttpResponse:
    members = member_list(company=request.company, **_filters(request))
    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow(["email", "name", "team", "job_title", "role", "status",
                               "invited_at", "joined_at"])
        for m in members.iterator(chunk_size=2000):
            yield writer.writerow([
                csv_cell(m.user.email), csv_cell(m.user.full_name),
                csv_cell(m.team.name if m.team else ""), csv_cell(m.job_title),
                m.role, m.status, m.invited_at.isoformat(),
                m.joined_at.isoformat() if m.joined_at else "",
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.company.slug}-people-{stamp}.csv"'
    )
    return response


# --- People ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = _object_or_404(member_get(company=request.company, pk=pk))
    form = MemberEditForm(
        request.POST or None, company=request.company,
        initial={"team": member.team, "job_title": member.job_title, "role": member.role},
    )
    if member.role == Membership.Role.OWNER:
        # "Owner" is no choice here: a role select would submit "member" and be refused.
        del form.fields["role"]
    if request.method == "POST" and form.is_valid():
        try:
            company_services.membership_update(
                company=request.company, actor=request.membership, membership=member,
                team=form.cleaned_data["team"], job_title=form.cleaned_data["job_title"],
                role=form.cleaned_data.get("role") or None,
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved {member.user.get_full_name()}.")
            return _back(request, "member_detail", pk=member.pk)
    invitations = member.invitations.for_company(request.company).order_by("-created_at")
    return render(
        request, "teams/member_detail.html",
        {"member": member, "form": form, "invitations": invitations},
        status=400 if form.errors else 200,
    )


@require_POST
@company_view(role="admin")
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = _object_or_404(member_get(company=request.company, pk=pk))
    try:
        company_services.membership_remove(
            company=request.company, actor=request.membership, membership=member
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return _back(request, "member_detail", pk=member.pk)
    messages.success(request, f"{member.user.email} was removed from {request.company.name}.")
    return _back(request, "dashboard")


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
                return _back(request, "dashboard")
    return render(
        request, "teams/invite.html", {"form": form, "outcomes": outcomes},
        status=400 if form.errors or (outcomes and not all(o.ok for o in outcomes)) else 200,
    )


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def member_add(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm(request.POST or None, company=request.company)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_add_on_behalf(
                company=request.company, actor=request.membership, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{member.user.get_full_name()} was added.")
            return _back(request, "member_detail", pk=member.pk)
    return render(request, "teams/member_add.html", {"form": form},
                  status=400 if form.errors else 200)


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
                messages.success(request, f"Imported {len(result.rows)} people.")
                return _back(request, "dashboard")
        except CsvImportInvalid as error:
            result = error.result
    failed = bool(form.errors or (result and not result.ok))
    return render(request, "teams/csv_import.html", {"form": form, "result": result},
                  status=400 if failed else 200)


@require_POST
@company_view(role="admin")
def invitation_remind(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _object_or_404(invitation_get(company=request.company, pk=pk))
    try:
        invitation_services.invitation_send(
            company=request.company, invitation=invitation,
            reminder=invitation.sent_at is not None,
        )
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Sent the invitation to {invitation.email} again.")
    return _back(request, "dashboard")


@require_POST
@company_view(role="admin")
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _object_or_404(invitation_get(company=request.company, pk=pk))
    try:
        invitation_services.invitation_revoke(company=request.company, invitation=invitation)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The invitation for {invitation.email} was withdrawn.")
    return _back(request, "dashboard")


@require_POST
@company_view(role="admin")
def invitations_send(request: HttpRequest) -> HttpResponse:
    count = invitation_services.invitations_send_pending(company=request.company)
    messages.success(request, f"Sent {count} saved invitation(s).")
    return _back(request, "dashboard")


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
    return render(
        request, "teams/invite_links.html",
        {"form": form, "links": invite_link_list(company=request.company), "new_url": new_url,
         "now": timezone.now()},
        status=400 if form.errors else 200,
    )


@require_POST
@company_view(role="admin")
def invite_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link = _object_or_404(invite_link_get(company=request.company, pk=pk))
    invitation_services.invite_link_revoke(company=request.company, link=link)
    messages.success(request, f"“{link}” no longer works.")
    return _back(request, "invite_links")


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
            return _back(request, "teams")
    return render(request, "teams/teams.html",
                  {"form": form, "teams": team_list(company=request.company)},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = _object_or_404(team_get(company=request.company, pk=pk))
    form = TeamForm(request.POST or None, initial={"name": team.name})
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            company_services.team_delete(company=request.company, actor=request.membership, team=team)
            messages.success(request, f"Team “{team.name}” deleted; its people have no team now.")
            return _back(request, "teams")
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
                return _back(request, "teams")
    return render(request, "teams/team_edit.html", {"form": form, "team": team},
                  status=400 if form.errors else 200)


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
            return _back(request, "company_settings")
    return render(request, "teams/company_settings.html", {"form": form},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@company_view(role="owner")
def ownership_transfer(request: HttpRequest) -> HttpResponse:
    form = TransferForm(request.POST or None, company=request.company,
                        exclude_pk=request.membership.pk)
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
            return _back(request, "dashboard")
    return render(request, "teams/ownership_transfer.html", {"form": form},
                  status=400 if form.errors else 200)
