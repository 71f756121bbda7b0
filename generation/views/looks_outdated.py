"""Headshots approved under an older version of the look: listed, costed, regenerated."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.inputs import id_or_none
from teams.decorators import company_view

from ..eligibility import outdated_plan
from ..services.batches import outdated_regenerate


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def outdated_headshots(request: HttpRequest) -> HttpResponse:
    """GET: who has a headshot from an older look version, who can be regenerated now and
    what it costs. POST (the confirmation, naming the number of people it was shown):
    start their new photos."""
    company = request.company
    if request.method == "POST":
        plan = outdated_plan(company=company)
        if id_or_none(request.POST.get("count", "")) != len(plan.ready) or not plan.ready:
            messages.error(request, "The list changed since you saw it (or is empty): check "
                                    "it and the cost again, then confirm.")
            return redirect("generation:outdated_headshots", company_slug=company.slug)
        order = outdated_regenerate(company=company, actor=request.membership)
        count = len(order.started)
        messages.success(request, f"Started new photos in the current look for {count} "
                                  f"{'person' if count == 1 else 'people'}. Their approved "
                                  "headshots stay until you approve the new ones.")
        for problem in order.problems[:10]:
            messages.warning(request, problem)
        return redirect("generation:outdated_headshots", company_slug=company.slug)
    return render(request, "generation/outdated.html", {"plan": outdated_plan(company=company)})
