"""The database's tenant wall for a company's pages (core/rls.py).

Placed after authentication: for a URL with a ``company_slug`` of which the signed-in person
is a member, the whole rest of the request (the middleware below this one, the view, and a
streamed response while it is read) runs with that company named, and sees only its rows.
Anything else (no such company, not a member, anonymous) runs with no company named, so a
forgotten filter finds nothing; the view's decorator answers 404 as it always does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from core.rls import company_scope, rls_active

from .models import Membership
from .selectors import membership_for_request


class CompanyScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = _membership_of(request) if rls_active() else None
        if membership is None:
            return self.get_response(request)
        company_id = membership.company_id
        # The decorator takes it from here instead of asking again (same path, same person).
        request._rls_membership = membership  # type: ignore[attr-defined]
        with company_scope(company_id):
            request._rls_company_id = company_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        if response.streaming:  # read after this returns: name the company again meanwhile
            response.streaming_content = _scoped(response.streaming_content, company_id)
        return response


def _membership_of(request: HttpRequest) -> Membership | None:
    try:
        slug = resolve(request.path_info).kwargs.get("company_slug")
    except Resolver404:
        return None
    if not slug or not request.user.is_authenticated:
        return None
    return membership_for_request(user=request.user, company_slug=slug)


def _scoped(chunks: Iterable, company_id: int) -> Iterator:
    with company_scope(company_id):
        yield from chunks
