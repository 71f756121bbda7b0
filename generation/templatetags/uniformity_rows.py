"""The uniformity page's people, written in one pass.

Each person was a photo (its link reversed with ``{% url %}``, ~20-100 µs a call) and a table
row of five cells, some forty template nodes: a team of 50 cost the page ~1.4x a team of 3.
Here the link is reversed once a page and each person is a few ``format_html`` calls. The
markup is the one the template had, byte for byte (tests/test_list_rows.py renders the old
loops beside these).
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.rows import format_html_fast, path_for_id

register = template.Library()

_PHOTO = ('<figure class="selfie{}"><img src="{}" alt="{}" width="140"><figcaption>{}{}'
          '</figcaption></figure>')
_APPROVED = mark_safe(' <span class="badge badge-approved">Approved</span>')
_ROW = '<tr><td data-label="Person">{}</td>{}</tr>'
_CELL = '<td data-label="{}"{}>{}{}</td>'
_OUTLIER = mark_safe(' class="outlier"')
_STANDS_OUT = mark_safe(' <span class="visually-hidden">(stands out)</span>⚠')


@register.simple_tag
def uniformity_photos(people, company_slug: str) -> SafeString:
    """Each person's photo of a ``uniformity_report`` entry, as the strip shows it."""
    thumb = path_for_id("generation:candidate_thumb", company_slug)
    return mark_safe("".join(format_html_fast(
        _PHOTO, " outlier" if p["outlier"] else "", thumb(p["photo"]["pk"]), p["name"],
        p["name"], _APPROVED if p["approved"] else "") for p in people))


@register.simple_tag
def uniformity_rows(people) -> SafeString:
    """Each person's row of the entry's table: their name and a cell a metric."""
    return mark_safe("".join(format_html_fast(_ROW, p["name"], mark_safe("".join(format_html_fast(
        _CELL, cell["label"], _OUTLIER if cell["outlier"] else "", cell["value"],
        _STANDS_OUT if cell["outlier"] else "") for cell in p["cells"]))) for p in people))
