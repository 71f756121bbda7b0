from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, Any]:
    """Expose the company resolved by the tenant decorator to every template."""
    return {
        "company": getattr(request, "company", None),
        "membership": getattr(request, "membership", None),
    }
