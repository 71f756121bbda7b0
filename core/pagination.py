"""Keyset pagination for the admin pages: every page, first or last, costs the same.

A page is read as "the next N rows after this row" on an index that ends in the list's sort
key and the id, so the database reads N + 1 index entries whatever the company's size and
wherever the page is; Django's Paginator (OFFSET and a COUNT of everything) reads the whole
list up to the page and counts all of it on every request.

Links carry the id of the row a page starts after (``?after=``) or ends before
(``?before=``), never the sort value: a person's name does not belong in URLs and server
logs. The row's sort value is looked up again (one indexed query) within the company.
``?page=last`` is the last page. A malformed value is a clear 400 (``BadCursor``); a row
that has gone since the link was made leads to the first (or last) page instead.

Hand-written: DRF's CursorPagination serves the API, but it encodes the sort value in the
link and belongs to DRF views; django-keyset-pagination and similar packages are unkept.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import QueryDict

MAX_ID = 2**63 - 1
PAGE_PARAMS = ("after", "before", "page")


class BadCursor(ValueError):
    """The page link is malformed. The message is shown as is."""


@dataclass
class KeysetPage:
    items: list
    has_previous: bool
    has_next: bool
    first_url: str
    previous_url: str
    next_url: str
    last_url: str

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next


def _pk(item) -> int:
    return item["id"] if isinstance(item, dict) else item.pk


def _cursor_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19 or not 0 < int(value) <= MAX_ID:
        raise BadCursor("This page link is not valid. Go back to the first page and try again.")
    return int(value)


def _after(field: str, descending: bool, value, pk: int) -> Q:
    """Rows after (value, pk) in the order field [desc], id [desc]: written as a range on the
    first column plus a tie-break, which both PostgreSQL and SQLite answer from the index."""
    if descending:
        return Q(**{f"{field}__lte": value}) & (Q(**{f"{field}__lt": value}) | Q(pk__lt=pk))
    return Q(**{f"{field}__gte": value}) & (Q(**{f"{field}__gt": value}) | Q(pk__gt=pk))


def keyset_page(
    queryset: QuerySet, *, key: str, params: QueryDict, per_page: int | None = None,
    anchors: QuerySet | None = None,
) -> KeysetPage:
    """One page of ``queryset`` (models, or ``values()`` rows with their "id") ordered by
    ``key`` ("name" or "-name"), then the id the same way. ``anchors``: where a link's row
    is looked up (the company's rows of the model, unfiltered: a filter changed since does
    not break the link); default ``queryset``.

    ``per_page``: default ``ADMIN_LIST_PAGE_SIZE``. Raises BadCursor for a malformed link.
    """
    per_page = per_page or settings.ADMIN_LIST_PAGE_SIZE
    descending = key.startswith("-")
    field = key.lstrip("-")
    sign = "-" if descending else ""
    forward = (f"{sign}{field}", f"{sign}pk")
    backward = (f"{'' if descending else '-'}{field}", f"{'' if descending else '-'}pk")

    after, before, page = (params.get(name, "") for name in PAGE_PARAMS)
    if page not in ("", "1", "first", "last"):
        raise BadCursor("This page link is not valid. Go back to the first page and try again.")
    anchor = None
    if after or before:
        pk = _cursor_id(after or before)
        anchor = (anchors if anchors is not None else queryset).filter(pk=pk).values_list(
            field, "pk").first()

    if before and anchor is not None:
        rows = list(queryset.filter(_after(field, not descending, *anchor))
                    .order_by(*backward)[:per_page + 1])
        has_previous, has_next = len(rows) > per_page, True
        items = rows[:per_page][::-1]
    elif page == "last" or (before and anchor is None):
        rows = list(queryset.order_by(*backward)[:per_page + 1])
        has_previous, has_next = len(rows) > per_page, False
        items = rows[:per_page][::-1]
    else:
        if anchor is not None:
            queryset = queryset.filter(_after(field, descending, *anchor))
        rows = list(queryset.order_by(*forward)[:per_page + 1])
        has_previous, has_next = anchor is not None, len(rows) > per_page
        items = rows[:per_page]

    kept = params.copy()
    for name in PAGE_PARAMS:
        kept.pop(name, None)

    def url(**extra: object) -> str:
        query = kept.copy()
        for name, value in extra.items():
            query[name] = str(value)
        encoded = query.urlencode()
        return f"?{encoded}" if encoded else "?"

    return KeysetPage(
        items=items, has_previous=has_previous, has_next=has_next,
        first_url=url(),
        previous_url=url(before=_pk(items[0])) if items and has_previous else "",
        next_url=url(after=_pk(items[-1])) if items and has_next else "",
        last_url=url(page="last"),
    )


def query_without_pages(params: QueryDict) -> str:
    """The query string of the current list, page links removed (for exports and filters)."""
    return urlencode([(k, v) for k, values in params.lists() if k not in PAGE_PARAMS
                      for v in values])


def bad_cursor_response(request, error: BadCursor):
    """The 400 page for a malformed page link, with the reason."""
    from django.shortcuts import render

    return render(request, "400.html", {"message": str(error)}, status=400)
