"""The one base class every API view derives from: key authentication, scope checks,
per-key throttling, and a queryset scoped to the key's company (fail closed)."""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from contextlib import ExitStack
from datetime import UTC

from django.db import connections
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, permissions, throttling
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

from core.inputs import InputInvalid, json_loads_bounded
from core.rls import company_scope

from ..models import ApiKey
from .authentication import ApiKeyAuthentication
from .renderers import ListJSONRenderer
from .times import SUFFIX as TIME_SUFFIX
from .times import db_time, utc_times


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


class UpdatedCursor(BasePagination):
    """Keyset pages on (a time, the id): stable under concurrent writes, and every page, the
    thousandth as the first, is one index range of `page_size` + 1 rows. Oldest change
    first, so a sync can resume from its last cursor or `updated_since`.

    Not DRF's CursorPagination: its cursor holds the time alone and skips rows sharing it by
    OFFSET, capped at 1,000, so more than 1,000 rows changed at the same instant (one bulk
    update) could not be paged through; and it answers a malformed cursor with a 404 or,
    for a well-formed one holding no valid time, a database error. Here the cursor holds the
    time and the id of the row it follows, and anything else is a 400 that says so.
    """

    ordering = ("updated_at", "pk")  # a non-null time, then the id
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_param = "cursor"
    invalid_cursor = ("Not a valid cursor: pass the `next` or `previous` link of a page as it "
                      "is, or leave the cursor out to start at the beginning.")

    def get_page_size(self, request) -> int:
        value = request.query_params.get(self.page_size_query_param, "")
        if value.isascii() and value.isdigit() and len(value) < 6 and int(value) > 0:
            return min(int(value), self.max_page_size)
        return self.page_size

    def encode_cursor(self, value, pk: int, reverse: bool) -> str:
        raw = f"{value.isoformat()}|{pk}|{int(reverse)}".encode()
        return urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, encoded: str) -> tuple:
        try:
            if len(encoded) > 200:
                raise ValueError
            raw = urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
            when, pk, reverse = raw.split("|")
            value = parse_datetime(when)
            if value is None or value.tzinfo is None:
                raise ValueError
            value = value.astimezone(UTC)
            if not (pk.isdigit() and 0 < int(pk) < 2**63 and reverse in ("0", "1")):
                raise ValueError
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
            raise ValidationError({self.cursor_query_param: self.invalid_cursor}) from None
        return value, int(pk), reverse == "1"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        field = self.ordering[0]
        encoded = request.query_params.get(self.cursor_query_param)
        self.reverse, after = False, None
        if encoded is not None:
            value, pk, self.reverse = self.decode_cursor(encoded)
            after = (value, pk)
        if self.reverse:
            assert after is not None
            queryset = queryset.filter(Q(**{f"{field}__lte": after[0]}) & (
                Q(**{f"{field}__lt": after[0]}) | Q(pk__lt=after[1]))).order_by(f"-{field}", "-pk")
        else:
            if after is not None:
                queryset = queryset.filter(Q(**{f"{field}__gte": after[0]}) & (
                    Q(**{f"{field}__gt": after[0]}) | Q(pk__gt=after[1])))
            queryset = queryset.order_by(field, "pk")
        rows = list(queryset[:size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if self.reverse:
            rows.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = after is not None, more
        self.page = rows
        return rows

    def _link(self, row, reverse: bool) -> str:
        # A row is a model, or a values_list(named=True) row (the list views read plain values,
        # their times as `<field>_utc`, text or a datetime: delivery/api/times.py).
        if isinstance(row, tuple):
            value, pk = db_time(getattr(row, self.ordering[0] + TIME_SUFFIX)), row.id
        elif isinstance(row, dict):
            value, pk = row[self.ordering[0]], row["id"]
        else:
            value, pk = getattr(row, self.ordering[0]), row.pk
        cursor = self.encode_cursor(value, pk, reverse)
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param,
                                   cursor)

    def get_next_link(self) -> str | None:
        return self._link(self.page[-1], False) if self.has_next and self.page else None

    def get_previous_link(self) -> str | None:
        return self._link(self.page[0], True) if self.has_previous and self.page else None

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(),
                         "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {"type": "object", "required": ["results"],
                "properties": {"next": link, "previous": link, "results": schema}}

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The `next` or `previous` link's cursor.",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page, at most {self.max_page_size}.",
             "schema": {"type": "integer"}},
        ]


class ValuesListMixin:
    """A list view whose page is read as plain values (``list_columns``) and written out by
    ``list_rows`` (delivery/api/serializers.py says why): the same JSON as the view's
    serializer, which still describes the schema."""

    list_columns: tuple[str, ...] = ()
    # DRF's bytes, written faster (delivery/api/renderers.py); the browsable API as before.
    renderer_classes = [ListJSONRenderer if renderer is JSONRenderer else renderer
                        for renderer in api_settings.DEFAULT_RENDERER_CLASSES]
    list_times: tuple[str, ...] = ()  # read as `<field>_utc` (delivery/api/times.py)

    def list_rows(self, rows: list) -> list[dict]:  # pragma: no cover - each view
        raise NotImplementedError

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        times = utc_times(self.list_times, connections[queryset.db])
        # Named tuples: a row's columns by name, ~2-6 µs a row cheaper than values()' dicts.
        queryset = queryset.annotate(**times).values_list(*self.list_columns, *times,
                                                          named=True)
        rows = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.list_rows(rows))


class CompanyScopedMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasKeyScope]
    throttle_classes = [PerKeyThrottle]
    # Every list pages on the time of the last change (keyset); a single object ignores it.
    pagination_class = UpdatedCursor

    # The database's wall (core/rls.py): once the key has named the company (DRF
    # authenticates in initial()), the rest of the request sees only that company's rows.
    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._company_scopes = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        company = getattr(request, "company", None)
        if company is not None:
            self._company_scopes.enter_context(company_scope(company.pk))

    model = None  # each view names its model

    def scoped_queryset(self, company):
        """The company's rows of ``model``; a view that filters, joins or narrows them (to
        what may leave, say) overrides it."""
        return self.model.objects.for_company(company)

    def get_queryset(self):
        company = getattr(self.request, "company", None)
        if company is None:  # no key (schema generation): nothing, never everything
            return self.model.objects.none()
        return self.scoped_queryset(company)
