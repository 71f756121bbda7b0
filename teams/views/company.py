"""Pages inside one company: /c/<company_slug>/…"""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.csv_safe import Echo, csv_cell
from core.inputs import id_or_none
from core.pagination import BadCursor, bad_cursor_response, keyset_page, query_without_pages

from ..decorators import company_view
from ..models import Membership
from ..selectors import (
    invitations_unsent_count,
    member_list,
    member_rows,
    member_status_counts,
    team_choices,
)

Status = Membership.Status

NEXT_STEP = {
    Status.INVITED: "Accept your invitation.",
    Status.JOINED: "Read and sign the consent notice, then upload a few selfies.",
    Status.CONSENTED: "Upload 4 to 20 selfies: good light, face the camera, no sunglasses.",
    Status.UPLOADED: "Your selfies are in. Next: make your headshots in your company's look.",
    Status.GENERATING: "Your headshots are being made. We will e-mail you when they are ready.",
    Status.REVIEW: "Your headshots are ready: pick your favourite.",
    Status.APPROVED: "Your headshot is approved: download it in the size you need.",
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
        {"next_step": NEXT_STEP.get(membership.status, ""), "steps": Status.choices},
    )


# --- Admin dashboard --------------------------------------------------------------------


def _filters(request: HttpRequest) -> dict:
    team = request.GET.get("team", "")
    status = request.GET.get("status", "")
    return {
        "team_id": id_or_none(team),
        "no_team": team == "none",
        "status": status if status in Status.values else None,
        "query": request.GET.get("q", "").strip()[:100],
    }


@require_GET
@company_view(role="admin")
def dashboard(request: HttpRequest) -> HttpResponse:
    company = request.company
    filters = _filters(request)
    # Keyset pages (core.pagination): the first, the last and every one between read a
    # page and one more row of an index, whatever the size of the company.
    try:
        page = keyset_page(
            member_rows(company=company, **filters), key="sort_name", params=request.GET,
            anchors=Membership.objects.for_company(company))
    except BadCursor as error:
        return bad_cursor_response(request, error)
    counts = member_status_counts(
        company=company, team_id=filters["team_id"], no_team=filters["no_team"]
    )
    # Links and labels are made here in plain Python (and the team menu by a tag): a page of
    # 50 people and a menu of 50 teams cost the template little more than 10 and 3 do.
    prefix = reverse("teams:member_detail", args=[company.slug, 0])[:-2]
    invitations = reverse("teams:invitations_send", args=[company.slug])[:-len("send/")]
    return render(
        request, "teams/dashboard.html",
        {
            "members": page,
            "rows": [_member_row(row, prefix, invitations) for row in page],
            "counts": [(value, label, counts[value]) for value, label in Status.choices],
            "total": sum(counts.values()),
            "matching": None if filters["query"] else (
                counts[filters["status"]] if filters["status"] else sum(counts.values())),
            "teams": team_choices(company=company),
            "filters": filters,
            "statuses": Status.choices,
            "unsent": invitations_unsent_count(company=company),
            "querystring": query_without_pages(request.GET),
        },
    )


_STATUS_LABELS = dict(Status.choices)
_ROLE_LABELS = dict(Membership.Role.choices)


def _member_row(row: dict, prefix: str, invitations: str) -> dict:
    invitation = row["invitation_id"]
    return {
        "url": f"{prefix}{row['id']}/", "name": row["user__full_name"],
        "job_title": row["job_title"], "email": row["user__email"],
        "team": row["team__name"] or "", "status": row["status"],
        "status_label": _STATUS_LABELS.get(row["status"], row["status"]),
        "role": _ROLE_LABELS.get(row["role"], row["role"]),
        "remind_url": f"{invitations}{invitation}/remind/" if invitation else "",
        "revoke_url": f"{invitations}{invitation}/revoke/" if invitation else "",
        "invitation_label": "" if not invitation else (
            "Remind" if row["invitation_sent_at"] else "Send"),
    }


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
