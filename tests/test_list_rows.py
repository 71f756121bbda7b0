"""core/rows.py: the strings a list's rows are given in the view are exactly what the template
wrote before (the ``date`` filter in the current time zone, ``{% url %}``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from core.rows import local_day, local_minute, local_second, path_for_id

TIMES = [datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
         datetime(1999, 7, 8, 0, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 30), None]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"])
def test_times_are_written_as_the_date_filter_writes_them(zone):
    template = engines["django"].from_string(
        '{{ t|date:"Y-m-d" }}|{{ t|date:"Y-m-d H:i" }}|{{ t|date:"Y-m-d H:i:s" }}')
    with timezone.override(zone):
        for value in TIMES:
            assert template.render({"t": value}) == "|".join(
                (local_day(value), local_minute(value), local_second(value)))
        assert local_day(date(2026, 5, 6)) == "2026-05-06"


def test_a_path_for_any_id_is_what_reverse_gives():
    path = path_for_id("integrations:delivery_resend", "acme-4611686018427387911")
    for pk in (1, 42, 2**63 - 1):
        assert path(pk) == reverse("integrations:delivery_resend",
                                   args=["acme-4611686018427387911", pk])


# The delivery log's row as templates/delivery/webhook_detail.html wrote it before
# delivery/templatetags/webhook_rows.py.
_OLD_ROW = (
    '{% for d in deliveries %}<tr>'
    '<td data-label="Created">{{ d.created_at|date:"Y-m-d H:i:s" }}</td>\n'
    '<td data-label="Event"><code>{{ d.event_type }}</code> '
    '<small class="muted">{{ d.event_id }}</small></td>\n'
    '<td data-label="Status"><span class="badge'
    "{% if d.status == 'succeeded' %} badge-approved"
    "{% elif d.status == 'failed' %} badge-rejected"
    "{% elif d.status == 'pending' %} badge-invited"
    '{% endif %}">{{ d.get_status_display }}</span>{% if d.delivered_at %} '
    '<small class="muted">{{ d.delivered_at|date:"Y-m-d H:i:s" }}</small>{% endif %}</td>\n'
    '<td data-label="Attempts">{{ d.attempts }}</td>\n'
    '<td data-label="Last answer">{% if d.last_status_code %}{{ d.last_status_code }}'
    '{% endif %}{% if d.last_error %} <small class="muted">{{ d.last_error }}</small>'
    '{% endif %}{% if not d.last_status_code and not d.last_error %}—{% endif %}</td>\n'
    '<td data-label="Next attempt">'
    '{% if d.status == \'pending\' %}{{ d.next_attempt_at|date:"Y-m-d H:i:s" }}{% else %}—'
    '{% endif %}</td>\n'
    '<td>{% if active %}<form method="post" action="'
    '{% url \'integrations:delivery_resend\' \'acme\' d.id %}" class="inline">{% csrf_token %}'
    '<button class="link" type="submit">Re-send</button></form>{% endif %}</td></tr>\n'
    '{% endfor %}'
)


@pytest.mark.parametrize("active", [True, False])
def test_the_delivery_log_rows_are_the_templates_markup(active):
    from delivery.models import WebhookDelivery
    from delivery.webhooks.views import _delivery_row

    labels = dict(WebhookDelivery.Status.choices)
    rows = [{"id": n + 1, "created_at": TIMES[n % 3], "event_type": "person.updated",
             "event_id": f"evt_<{n}>&", "status": status, "delivered_at": TIMES[1] if n % 2 else None,
             "attempts": n, "last_status_code": code, "last_error": error,
             "next_attempt_at": TIMES[2]}
            for n, (status, code, error) in enumerate([
                ("succeeded", 200, ""), ("failed", 500, "Server <error>"), ("pending", None, ""),
                ("sending", 0, "timed out"), ("pending", 404, "")])]
    context = {"csrf_token": "tok<en>", "active": active}
    old = engines["django"].from_string(_OLD_ROW).render(
        {**context, "deliveries": [{**row, "get_status_display": labels[row["status"]]}
                                   for row in rows]})
    path = path_for_id("integrations:delivery_resend", "acme")
    new = engines["django"].from_string(
        "{% load webhook_rows %}{% delivery_rows deliveries active %}").render(
        {**context, "deliveries": [_delivery_row(row, path) for row in rows]})
    assert new == old


def test_the_export_pages_team_links_are_the_loops_markup():
    # templates/delivery/exports.html wrote one link a team in a loop before {% team_links %}.
    old = engines["django"].from_string(
        "{% for t in teams %}<a class=\"button secondary\" href=\"{% url 'generation:people_csv' "
        "slug %}?team={{ t.pk }}\">{{ t.name }}</a> {% endfor %}")
    new = engines["django"].from_string(
        "{% load lists %}{% url 'generation:people_csv' slug as people_csv %}"
        "{% team_links teams people_csv %}")
    teams = [(1, "Sales"), (22, "R&D <labs>"), (2**63 - 1, "\"Quotes\" & 'apostrophes'"),
             (5, "Équipe")]
    assert new.render({"slug": "acme-1", "teams": teams}) == old.render(
        {"slug": "acme-1", "teams": [{"pk": pk, "name": name} for pk, name in teams]})
    assert new.render({"slug": "acme-1", "teams": []}) == ""


def test_the_batches_pages_name_lists_are_the_loops_markup():
    # templates/generation/batches.html wrote who is in and who is left out in loops before
    # {% name_items %} and {% reason_items %}.
    old = engines["django"].from_string(
        "{% for name in included %}<li>{{ name }}</li>{% endfor %}|"
        "{% for name, why in excluded %}<li>{{ name }}: {{ why }}</li>{% endfor %}")
    new = engines["django"].from_string(
        "{% load lists %}{% name_items included %}|{% reason_items excluded %}")
    names = ["Ada Allen", "R&D <labs>", "\"Quotes\" & 'apostrophes'", "Équipe 💡",
             "a@example.com", "&amp;", ""]
    whys = ["has not given consent", "2 of 4 usable selfies", "<b>not</b> & \"why\"", ""]
    context = {"included": names,
               "excluded": [(name, whys[k % len(whys)]) for k, name in enumerate(names)]}
    assert new.render(context) == old.render(context)
    assert "&lt;labs&gt;" in new.render(context)
    assert new.render({"included": [], "excluded": []}) == "|"


# The review page's cards as templates/generation/review.html wrote them before
# generation/templatetags/review_cards.py.
_OLD_REVIEW_CARDS = (
    '{% for row in rows %}<figure class="selfie card{% if row.approved %} approved{% endif %}">\n'
    '{% if row.pick %}<a href="{{ row.image_url }}"><img src="{{ row.thumb_url }}" alt="{{ row.name'
    ' }}\'s pick" width="180"></a>{% endif %}\n'
    '<figcaption><strong>{{ row.name }}</strong><br><small class="muted">{{ row.team|default:"No te'
    'am" }} · {% if row.favourite %}their pick{% else %}best of {{ row.choices }}{% endif %}</small'
    '>{% if row.offline %}<br><small class="muted" data-offline-note>Studio retouch, offline: their'
    " own photo, so the look's wardrobe is not applied</small>{% endif %}\n"
    '{% if row.pick_approved %}<p><span class="badge badge-approved">Approved</span></p>{% elif row'
    '.pick %}\n'
    '<form method="post" action="{{ row.decide_url }}">{% csrf_token %}<input type="hidden" name="n'
    'ext" value="{{ here }}">\n'
    '<button type="submit" name="action" value="approve">Approve<span class="visually-hidden"> {{ r'
    "ow.name }}'s photo</span></button>\n"
    '<div class="field"><label for="reason-{{ row.pick }}">Reason to reject</label><input id="reaso'
    'n-{{ row.pick }}" type="text" name="reason" maxlength="500"></div>\n'
    '<button type="submit" name="action" value="reject" class="secondary">Reject<span class="visual'
    'ly-hidden"> {{ row.name }}\'s photo</span></button></form>{% endif %}</figcaption></figure>\n'
    '{% empty %}<p class="empty">Nobody is waiting for review.</p>{% endfor %}'
)


@pytest.mark.parametrize("token", ["tok<en>", "NOTPROVIDED", None])
def test_the_review_cards_are_the_templates_markup(token):
    rows = []
    for n in range(12):
        pick = (n + 1) * 7 if n % 4 else None
        rows.append({
            "name": ["Ada Lovelace", "O'Brien <b>&", "", "Zoë \"Z\""][n % 4], "team": ["", "R&D"][n % 2],
            "pick": pick, "favourite": n % 3 == 0, "choices": n, "approved": n % 5 == 0,
            "pick_approved": n % 6 == 0, "offline": n % 2 == 1,
            "image_url": f"/c/acme/candidates/{pick}/image/?a=1&b=2" if pick else "",
            "thumb_url": f"/c/acme/candidates/{pick}/thumb/" if pick else "",
            "decide_url": f"/c/acme/review/{pick}/decide/" if pick else ""})
    context = {"csrf_token": token, "here": "/c/acme/admin/review/?team=3&page=last"} if token else {
        "here": "/c/acme/admin/review/"}
    old = engines["django"].from_string(_OLD_REVIEW_CARDS)
    new = engines["django"].from_string("{% load review_cards %}{% review_cards rows here %}")
    assert new.render({**context, "rows": rows}) == old.render({**context, "rows": rows})
    assert new.render({**context, "rows": []}) == old.render({**context, "rows": []})


# The uniformity page's people as templates/generation/uniformity.html wrote them before
# generation/templatetags/uniformity_rows.py.
_OLD_UNIFORMITY_PHOTOS = (
    '{% for p in entry.people %}<figure class="selfie{% if p.outlier %} outlier{% endif %}"><img sr'
    'c="{% url \'generation:candidate_thumb\' company.slug p.photo.pk %}" alt="{{ p.name }}" width='
    '"140"><figcaption>{{ p.name }}{% if p.approved %} <span class="badge badge-approved">Approved<'
    '/span>{% endif %}</figcaption></figure>{% endfor %}'
)
_OLD_UNIFORMITY_ROWS = (
    '{% for p in entry.people %}<tr><td data-label="Person">{{ p.name }}</td>{% for cell in p.cells'
    ' %}<td data-label="{{ cell.label }}"{% if cell.outlier %} class="outlier"{% endif %}>{{ cell.v'
    'alue }}{% if cell.outlier %} <span class="visually-hidden">(stands out)</span>⚠{% endif %}</td'
    '>{% endfor %}</tr>{% endfor %}'
)


def test_the_uniformity_people_are_the_templates_markup():
    people = [{
        "name": ["Ada", "O'Brien <b>&", "Zoë \"Z\""][n % 3], "photo": {"pk": (n + 1) * 11},
        "approved": n % 2 == 0, "outlier": n % 3 == 1,
        "cells": [{"label": label, "value": value, "outlier": (n + k) % 4 == 0}
                  for k, (label, value) in enumerate([("Backdrop ΔE", "1.5"), ("Face <h>", "12%"),
                                                      ("Head roll", "—"), ("Eye line", None)])]}
        for n in range(7)]
    context = {"company": {"slug": "acme-7"}, "entry": {"people": people}}
    old = engines["django"].from_string(_OLD_UNIFORMITY_PHOTOS + "|" + _OLD_UNIFORMITY_ROWS)
    new = engines["django"].from_string(
        "{% load uniformity_rows %}{% uniformity_photos entry.people company.slug %}|"
        "{% uniformity_rows entry.people %}")
    assert new.render(context) == old.render(context)
    empty = {**context, "entry": {"people": []}}
    assert new.render(empty) == old.render(empty) == "|"


def test_format_html_fast_writes_what_format_html_writes():
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    from core.rows import format_html_fast

    class Html:
        def __html__(self):
            return "<b>own</b>"

    values = ["", "plain", "<script>&\"'</script>", "Ünïcode ⚠ 💡", "&amp;", 0, -7, 2**63 - 1,
              True, False, None, 1.5, float("nan"), mark_safe("<i>safe</i>"), Html(),
              gettext_lazy("Approved"), date(2026, 1, 2), ["<list>"], b"<bytes>"]
    formats = ["{}", "<a href=\"{}\">{}</a>", "[{}|{}|{}]"]
    for fmt in formats:
        width = fmt.count("{}")
        for start in range(len(values)):
            args = [values[(start + k) % len(values)] for k in range(width)]
            fast, slow = format_html_fast(fmt, *args), format_html(fmt, *args)
            assert fast == slow and type(fast) is type(slow), (fmt, args)
