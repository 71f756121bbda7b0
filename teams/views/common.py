"""What the company pages of teams/views/ share."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def back_to(request: HttpRequest, name: str, **kwargs: object) -> HttpResponse:
    """Redirect to the teams page ``name`` of the request's company."""
    return redirect(f"teams:{name}", company_slug=request.company.slug, **kwargs)
