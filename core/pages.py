"""Steps the server-rendered pages of every app repeat: a row that is not the company's (or
not there) is a 404, a service call's outcome is told to the person as a message, and a page
with a refused form answers 400."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import ServiceError

T = TypeVar("T")


def object_or_404(obj: T | None, message: str = "No such page.") -> T:
    """``obj``, which a selector looked up within the request's company; a 404 when there is
    none (another company's row looks exactly like a missing one)."""
    if obj is None:
        raise Http404(message)
    return obj


@contextmanager
def reported(request: HttpRequest, *, success: str) -> Iterator[None]:
    """Run the block; a ServiceError it raises becomes an error message (its text says what
    to do), otherwise ``success`` is shown. The view redirects either way."""
    try:
        yield
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)


def form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """``template`` with ``context``, whose ``form`` decides the status: 400 when it was posted
    with errors, so a refused submission never reads as a success."""
    return render(request, template, context, status=400 if context["form"].errors else 200)
