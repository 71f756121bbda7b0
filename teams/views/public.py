"""Pages outside any company: sign-in, sign-in links, invitations, health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import ServiceError, TokenInvalid
from core.pages import form_page
from core.rls import rls_bypass

from ..forms import EmailForm, JoinForm
from ..selectors import memberships_of_user
from ..services.auth import login_link_consume, login_link_request, login_link_resolve
from ..services.invitations import (
    invitation_accept,
    invitation_resolve,
    invite_link_resolve,
    invite_link_use,
)

_BACKEND = "django.contrib.auth.backends.ModelBackend"


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "teams/landing.html")
    with rls_bypass("a signed-in person's own list of companies, before one is chosen"):
        memberships = list(memberships_of_user(user=request.user))
    if len(memberships) == 1:
        # An admin signing in came to run the company: the dashboard, not the employee page.
        page = "teams:dashboard" if memberships[0].is_admin else "teams:employee_home"
        return redirect(page, company_slug=memberships[0].company.slug)
    return render(request, "teams/choose_company.html", {"memberships": memberships})


def _link_problem(request: HttpRequest, error: TokenInvalid, status: int = 410) -> HttpResponse:
    return render(
        request, "teams/link_problem.html",
        {"reason": error.reason, "message": str(error)}, status=status,
    )


@require_http_methods(["GET", "POST"])
def login_link_request_view(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login_link_request(email=form.cleaned_data["email"])
        return render(request, "teams/login_link_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "teams/login_link_request.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_link_consume_view(request: HttpRequest, token: str) -> HttpResponse:
    # GET only shows a button: link scanners in mail systems open links, and
    # must not spend a single-use token.
    try:
        if request.method == "POST":
            user = login_link_consume(raw_token=token)
            login(request, user, backend=_BACKEND)
            return redirect("home")
        login_link_resolve(raw_token=token)
    except TokenInvalid as error:
        return _link_problem(request, error)
    return render(request, "teams/login_link_confirm.html")


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            membership = invitation_accept(raw_token=token)
            login(request, membership.user, backend=_BACKEND)
            messages.success(request, f"Welcome to {membership.company.name}!")
            return redirect("teams:employee_home", company_slug=membership.company.slug)
        invitation = invitation_resolve(raw_token=token)
    except TokenInvalid as error:
        return _link_problem(request, error)
    return render(request, "teams/invitation_accept.html", {"invitation": invitation,
                                                            "invited_company": invitation.company})


@require_http_methods(["GET", "POST"])
def invite_link_join_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = invite_link_resolve(raw_token=token)
    except TokenInvalid as error:
        return _link_problem(request, error)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invite_link_use(
                raw_token=token, email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
            )
        except TokenInvalid as error:
            if error.reason == "domain":
                form.add_error("email", str(error))
            else:
                return _link_problem(request, error)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            return render(
                request, "teams/join_sent.html",
                {"email": form.cleaned_data["email"], "invited_company": link.company},
            )
    return form_page(
        request, "teams/join.html",
        {"form": form, "link": link, "invited_company": link.company,
         "action": reverse("invite_link_join", kwargs={"token": token})},
    )
