"""IdentityMiddleware: the three things this app adds to requests of other apps' pages.

1. Enforced SSO: password sign-in, e-mailed sign-in links, invitations and invite links are
   refused for addresses at a domain whose company enforces SSO (its owner excepted), before
   the view runs, so nothing is sent, spent or counted as a failed password.
2. Two-factor step-up: an owner or admin opening an admin page of their company shows their
   second factor first when they have one or the company requires it.
3. The audit log of admin actions taken on other apps' admin pages (identity.audit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from core.errors import TokenInvalid
from teams.selectors import member_get, membership_for_request
from teams.services.auth import login_link_resolve
from teams.services.invitations import invitation_resolve

from .audit import ADMIN_URL_ACTIONS, audit_record
from .sso.services import other_sign_in_allowed
from .twofactor.services import admin_needs_2fa, has_second_factor, session_verified

_MEMBER_TARGETS = frozenset({"teams:member_detail", "teams:member_remove",
                             "privacy:paper_consent", "privacy:member_data_request",
                             "generation:member_selfies"})


def _enforced_email(request: HttpRequest, url_name: str, kwargs: dict) -> str | None:
    """The address a sign-in request is about, for the sign-in views we guard."""
    if url_name == "login":
        return request.POST.get("username", "")
    if url_name in ("login_link_request", "invite_link_join"):
        return request.POST.get("email", "")
    if url_name == "login_link_consume":
        try:
            return login_link_resolve(raw_token=kwargs.get("token", "")).user.email
        except TokenInvalid:
            return None  # the view explains
    if url_name == "invitation_accept":
        try:
            return invitation_resolve(raw_token=kwargs.get("token", "")).email
        except TokenInvalid:
            return None
    return None


class IdentityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        pending = getattr(request, "_identity_audit", None)
        if pending is not None:
            self._audit(request, response, pending)
        return response

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple,
                     view_kwargs: dict[str, Any]) -> HttpResponse | None:
        match = request.resolver_match
        if match is None:
            return None
        if request.method == "POST" and match.view_name in (
                "login", "login_link_request", "login_link_consume", "invitation_accept",
                "invite_link_join"):
            return self._sso_enforcement(request, match.view_name, view_kwargs)
        role = getattr(view_func, "company_role", None)
        slug = view_kwargs.get("company_slug")
        if role not in ("admin", "owner") or not slug or not request.user.is_authenticated:
            return None
        membership = membership_for_request(user=request.user, company_slug=slug)
        if membership is None or not membership.is_admin:
            return None  # the view answers 404 or 403 as it always does
        if admin_needs_2fa(membership=membership) and not session_verified(request):
            query = urlencode({"next": request.get_full_path()})
            if not has_second_factor(user=request.user):
                messages.info(request, f"{membership.company.name} requires two-factor "
                                       "authentication for admins. Set it up to continue.")
                return redirect(f"{reverse('identity:security')}?{query}")
            return redirect(f"{reverse('identity:2fa_verify')}?{query}")
        if match.view_name in ADMIN_URL_ACTIONS:
            target = ""
            if match.view_name in _MEMBER_TARGETS and "pk" in view_kwargs:
                member = member_get(company=membership.company, pk=view_kwargs["pk"])
                target = member.user.email if member else ""
            request._identity_audit = (membership, match.view_name, view_kwargs, target)
        return None

    def _sso_enforcement(self, request: HttpRequest, url_name: str,
                         kwargs: dict) -> HttpResponse | None:
        email = (_enforced_email(request, url_name, kwargs) or "").strip()
        if "@" not in email:
            return None
        allowed, company = other_sign_in_allowed(email=email)
        if allowed or company is None:
            return None
        if url_name == "invitation_accept":
            # Accepting through the provider accepts this invitation too.
            return redirect("identity:sso_company", slug=company.slug)
        return render(request, "identity/sso_required.html",
                      {"sso_company": company, "email": email}, status=403)

    def _audit(self, request: HttpRequest, response: HttpResponse, pending: tuple) -> None:
        membership, url_name, view_kwargs, target = pending
        if response.status_code >= 400:
            return
        if request.method == "GET" and "attachment" not in response.get("Content-Disposition", ""):
            return  # only file downloads are worth recording among reads
        if request.method not in ("GET", "POST"):
            return
        # A view that caught a ServiceError says so with an error message and a redirect.
        storage = getattr(request, "_messages", None)
        queued = getattr(storage, "_queued_messages", [])
        if any(message.level >= messages.ERROR for message in queued):
            return
        action, fields = ADMIN_URL_ACTIONS[url_name]
        details: dict[str, Any] = {}
        for name in fields:
            values = request.POST.getlist(name) if request.method == "POST" else request.GET.getlist(name)
            if values:
                details[name] = values if len(values) > 1 else values[0][:500]
        if "pk" in view_kwargs:
            details["id"] = view_kwargs["pk"]
        if url_name == "teams:csv_import" and details.get("action") != "import":
            return  # a dry-run check changes nothing
        audit_record(company=membership.company, action=action, actor=request.user,
                     target=target or (f"#{view_kwargs['pk']}" if "pk" in view_kwargs else ""),
                     details=details, request=request)
