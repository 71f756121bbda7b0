"""The one base class every API view derives from: key authentication, scope checks,
per-key throttling, and a queryset scoped to the key's company (fail closed)."""

from __future__ import annotations

from rest_framework import permissions, throttling
from rest_framework.pagination import CursorPagination

from ..models import ApiKey
from .authentication import ApiKeyAuthentication


class HasKeyScope(permissions.BasePermission):
    message = "This API key can only read; create a write key for this."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        return request.method in permissions.SAFE_METHODS or key.scope == ApiKey.Scope.WRITE


class PerKeyThrottle(throttling.SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        key = request.auth
        return f"throttle:api:{key.pk}" if isinstance(key, ApiKey) else None


class UpdatedCursor(CursorPagination):
    """Stable under concurrent writes, and the query is the same whatever the page number.
    Oldest change first, so a sync can resume from its last cursor or `updated_since`."""

    ordering = ("updated_at", "pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CompanyScopedMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasKeyScope]
    throttle_classes = [PerKeyThrottle]

    model = None  # each view names its model and defines scoped_queryset

    def scoped_queryset(self, company):  # pragma: no cover - each view defines it
        raise NotImplementedError

    def get_queryset(self):
        company = getattr(self.request, "company", None)
        if company is None:  # no key (schema generation): nothing, never everything
            return self.model.objects.none()
        return self.scoped_queryset(company)
