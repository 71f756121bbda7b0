"""Owner pages: who of the admins uses two-factor authentication, the requirement, and
the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ServiceError
from core.pages import form_page
from teams.decorators import company_view
from teams.selectors import company_admins

from ..audit import ACTIONS, action_label, audit_events
from ..forms import Require2faForm
from ..twofactor.services import has_second_factor, require_admin_2fa_set, security_settings


@require_http_methods(["GET", "POST"])
@company_view(role="owner")
def security(request: HttpRequest) -> HttpResponse:
    company = request.company
    current = security_settings(company=company).require_admin_2fa
    form = Require2faForm(request.POST or None, initial={"require_admin_2fa": current})
    if request.method == "POST" and form.is_valid():
        try:
            require_admin_2fa_set(company=company, actor=request.membership,
                                  required=form.cleaned_data["require_admin_2fa"],
                                  request=request)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Saved.")
            return redirect("identity:security_admin", company_slug=company.slug)
    admins = company_admins(company=company).order_by("user__email")
    rows = [(admin, has_second_factor(user=admin.user)) for admin in admins]
    return form_page(request, "identity/security_admin.html",
                     {"form": form, "admins": rows, "required": current})


@require_GET
@company_view(role="owner")
def audit_log(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    if action not in {key.split(".")[0] for key in ACTIONS} | set(ACTIONS):
        action = ""
    page = Paginator(audit_events(company=request.company, action=action), 50).get_page(
        request.GET.get("page"))
    for event in page:
        event.label = action_label(event.action)
    groups = sorted({key.split(".")[0] for key in ACTIONS})
    return render(request, "identity/audit_log.html",
                  {"page": page, "action": action, "groups": groups})
