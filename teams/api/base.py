"""The one base class every API view derives from: key authentication, scope checks,
per-key throttling, and a queryset scoped to the key's company (fail closed)."""

from __future__ import annotations

from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, permissions, throttling
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import JSONParser

from ..inputs import InputInvalid, json_loads_bounded
from ..models import ApiKey
from .authentication import ApiKeyAuthentication


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser recurses without a bound; this one refuses deep nesting first."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json_loads_bounded(stream.read() if stream is not None else b"")
        except InputInvalid as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None


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
    invalid_cursor_message = ("This cursor is invalid or was altered: use the next or previous "
                              "link of a page as it is, or start again without one.")

    def decode_cursor(self, request) -> Cursor | None:
        """DRF's decoding, and the position checked too: it goes into the query as a time,
        so a changed character, a bad date or a huge number is a 400, never a server error."""
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": self.invalid_cursor_message}) from None
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = parse_datetime(cursor.position)
            if position is None or position.tzinfo is None:
                raise ValueError(cursor.position)
            # In UTC: the database takes offsets only up to ±15:59.
            position = position.astimezone(UTC)
        except (ValueError, OverflowError):
            raise exceptions.ValidationError({"cursor": self.invalid_cursor_message}) from None
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=str(position))


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
