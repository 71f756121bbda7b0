"""Pages inside one company: /c/<company_slug>/…"""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.csv_safe import Echo, csv_cell

from ..decorators import company_view
from ..models import Membership
from ..selectors import (
    invitations_unsent_count,
    member_list,
    member_status_counts,
    team_list,
)

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
