"""A confirmation step for destructive actions that works without JavaScript.

The buttons that remove, revoke or delete stay plain one-tap forms; the view they post to
only acts when the POST also carries ``confirm=yes``. Without it nothing changes and the
person gets a page that says what will happen, with a form that posts the same request again
with the confirmation (and a way back). A stray tap, a double-click on the wrong row or a
replayed form therefore never destroys anything on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"


def is_confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirm_page(request: HttpRequest, *, title: str, button: str, cancel_url: str,
                 consequences: Iterable[str] = (), keep: Mapping[str, str] | None = None,
                 image_url: str = "", image_alt: str = "") -> HttpResponse:
    """The page that asks before ``title`` happens. ``keep`` names POST fields the confirming
    form must send again (e.g. ``action=delete`` on a page with several buttons)."""
    return render(request, "core/confirm.html", {
        "confirm_title": title,
        "confirm_button": button,
        "confirm_cancel_url": cancel_url,
        "confirm_consequences": list(consequences),
        "confirm_keep": dict(keep or {}),
        "confirm_action": request.path,
        "confirm_image_url": image_url,
        "confirm_image_alt": image_alt,
    })
