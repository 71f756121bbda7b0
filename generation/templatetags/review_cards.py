"""The review page's cards, written in one pass.

Each card was some thirty template nodes (its links, the approve/reject form with the page's
CSRF token, the labels), ~60-100 µs a card on this machine: a page of 50 people cost ~1.4x a
page of 3. One ``format_html`` a card costs a few µs. The markup is the one the template had,
byte for byte (tests/test_list_rows.py renders the old loop beside it).
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.rows import format_html_fast

register = template.Library()

_CARD = ('<figure class="selfie card{}">\n{}\n<figcaption><strong>{}</strong><br>'
         '<small class="muted">{} · {}</small>{}\n{}</figcaption></figure>\n')
_PICK = '<a href="{}"><img src="{}" alt="{}\'s pick" width="180"></a>'
_OFFLINE = mark_safe('<br><small class="muted" data-offline-note>Studio retouch, offline: their '
                     "own photo, so the look's wardrobe is not applied</small>")
_APPROVED = mark_safe('<p><span class="badge badge-approved">Approved</span></p>')
_FORM = ('\n<form method="post" action="{}">{}<input type="hidden" name="next" value="{}">\n'
         '<button type="submit" name="action" value="approve">Approve<span '
         'class="visually-hidden"> {}\'s photo</span></button>\n'
         '<div class="field"><label for="reason-{}">Reason to reject</label><input '
         'id="reason-{}" type="text" name="reason" maxlength="500"></div>\n'
         '<button type="submit" name="action" value="reject" class="secondary">Reject<span '
         'class="visually-hidden"> {}\'s photo</span></button></form>')
_CSRF = '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
_EMPTY = mark_safe('<p class="empty">Nobody is waiting for review.</p>')


@register.simple_tag(takes_context=True)
def review_cards(context, rows, here: str) -> SafeString:
    """The cards of the rows generation.views.admin.review makes; ``here``: the page's own
    path, where a decision returns to."""
    if not rows:
        return _EMPTY
    token = context.get("csrf_token")
    csrf = "" if not token or token == "NOTPROVIDED" else format_html_fast(_CSRF, token)
    cards = []
    for row in rows:
        name, pick = row["name"], row["pick"]
        if row["pick_approved"]:
            decision = _APPROVED
        elif pick:
            decision = format_html_fast(_FORM, row["decide_url"], csrf, here, name, pick, pick, name)
        else:
            decision = ""
        cards.append(format_html_fast(
            _CARD, " approved" if row["approved"] else "",
            format_html_fast(_PICK, row["image_url"], row["thumb_url"], name) if pick else "",
            name, row["team"] or "No team",
            "their pick" if row["favourite"] else f"best of {row['choices']}",
            _OFFLINE if row["offline"] else "", decision))
    return mark_safe("".join(cards))
