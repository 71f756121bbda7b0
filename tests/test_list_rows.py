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
