"""Who may see a person's own rows (a selfie, a job, a candidate) in the generation pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from core.files import private_file_response
from teams.decorators import company_view

Owned = TypeVar("Owned")


def own_or_admin(request: HttpRequest, row: Owned | None) -> Owned:
    """``row`` (anything with a ``membership_id``) for the person it belongs to and the
    company's admins; for anyone else, as for a missing row, the 404 of a page that does not
    exist."""
    if row is None or (row.membership_id != request.membership.pk  # type: ignore[attr-defined]
                       and not request.membership.is_admin):
        raise Http404("No such page.")
    return row


def private_photo_view(visible: Callable[[HttpRequest, int], Any],
                       key: str) -> Callable[..., HttpResponse]:
    """A member's view of one photo file: the file under attribute ``key`` (``image_key``,
    ``thumb_key``) of the row ``visible(request, pk)`` lets the request see."""

    @require_GET
    @company_view(role="member")
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return private_file_response(getattr(visible(request, pk), key))

    return view
