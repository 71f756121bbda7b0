"""The one place a web request's company is resolved."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from core.rls import company_scope

from .models import Membership
from .selectors import membership_for_request

ViewFunc = Callable[..., HttpResponse]


def company_view(*, role: str = "member") -> Callable[[ViewFunc], ViewFunc]:
    """Resolve ``/c/<company_slug>/…`` to ``request.company`` and ``request.membership``.

    ``role`` is the least role needed: "member", "admin" or "owner". Anyone who
    is not a member gets the same 404 as for a company that does not exist, so
    the URL space reveals nothing; a member without the role gets 403.
    """
    order = {"member": 0, "admin": 1, "owner": 2}
    needed = order[role]

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, company_slug: str, *args: Any, **kwargs: Any):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = getattr(request, "_rls_membership", None)  # teams.middleware's
            if membership is None or membership.company.slug != company_slug:
                membership = membership_for_request(user=request.user, company_slug=company_slug)
            if membership is None:
                raise Http404("No such page.")
            have = {Membership.Role.MEMBER: 0, Membership.Role.ADMIN: 1, Membership.Role.OWNER: 2}
            if have[membership.role] < needed:
                raise PermissionDenied("Only the company's admins can open this page.")
            request.company = membership.company  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            # The database's wall too (core/rls.py): the view sees this company's rows only.
            # teams.middleware has named it already for the whole request, as a rule.
            if getattr(request, "_rls_company_id", None) == membership.company_id:
                return view(request, *args, **kwargs)
            with company_scope(membership.company_id):
                return view(request, *args, **kwargs)

        wrapper.company_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorator
