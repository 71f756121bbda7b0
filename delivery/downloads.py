"""The employee downloads their own approved headshot, in the sizes, shapes and formats
that are offered (``delivery.variants``). Only their own, and only a photo that may leave
(``generation.selectors.headshots_that_may_leave``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from core.inputs import InputInvalid, int_bounded
from generation.selectors import headshots_that_may_leave
from teams.decorators import company_view

from .variants import Variant, variant_render


@require_GET
@company_view(role="member")
def headshot_download(request: HttpRequest) -> HttpResponse:
    try:
        variant = Variant(size=int_bounded(request.GET.get("size", "1024"), minimum=1,
                                           maximum=100_000),
                          shape=request.GET.get("shape", "look"),
                          format=request.GET.get("format", "jpeg"))
    except (InputInvalid, ValueError) as error:
        return HttpResponse(f"That download is not offered: {error}.", status=400,
                            content_type="text/plain; charset=utf-8")
    headshot = headshots_that_may_leave(company=request.company).filter(
        membership=request.membership).select_related("candidate").first()
    if headshot is None:
        raise Http404("You have no approved headshot yet.")
    try:
        image = variant_render(headshot.candidate, variant)
    except OSError:  # its file went with an erasure a moment ago
        raise Http404("You have no approved headshot yet.") from None
    response = HttpResponse(image, content_type=variant.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    name = f"headshot-{request.company.slug}-{variant.size}-{variant.shape}.{variant.extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
