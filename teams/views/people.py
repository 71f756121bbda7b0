"""An admin's pages about one person: details and role, adding someone directly, removing
a leaver. /c/<company_slug>/admin/people/…"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import form_page, object_or_404

from ..decorators import company_view
from ..forms import MemberAddForm, MemberEditForm
from ..models import Membership
from ..selectors import member_get
from ..services import companies as company_services
from ..services.auth import member_add_on_behalf
from .common import back_to


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = object_or_404(member_get(company=request.company, pk=pk))
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
            return back_to(request, "member_detail", pk=member.pk)
    invitations = member.invitations.for_company(request.company).order_by("-created_at")
    return form_page(
        request, "teams/member_detail.html",
        {"member": member, "form": form, "invitations": invitations},
    )


@require_POST
@company_view(role="admin")
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = object_or_404(member_get(company=request.company, pk=pk))
    if not is_confirmed(request):
        return confirm_page(
            request, title=f"Remove {member.user.email} from {request.company.name}?",
            button="Yes, remove them",
            cancel_url=reverse("teams:member_detail", args=[request.company.slug, member.pk]),
            consequences=["They can no longer sign in to this company.",
                          "Their selfies, photos, headshot and face data are erased at once.",
                          "The consent log keeps its proof of what they agreed to."])
    try:
        company_services.membership_remove(
            company=request.company, actor=request.membership, membership=member
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return back_to(request, "member_detail", pk=member.pk)
    messages.success(request, f"{member.user.email} was removed from {request.company.name}.")
    return back_to(request, "dashboard")


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
            return back_to(request, "member_detail", pk=member.pk)
    return form_page(request, "teams/member_add.html", {"form": form})
