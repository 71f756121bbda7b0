"""delivery/api/times.py: the API lists read their times as UTC text and write them by
slicing; the JSON must be byte for byte what reading them as datetimes gave (the code
before), on this database, in UTC and in other time zones, and for every shape of text a
database writes (Django's six fraction digits or none, SQLite's trigger's three, PostgreSQL's
to_char)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from delivery.api import times
from delivery.api.keys import api_key_create
from generation.models import GenerationJob, Headshot
from teams.models import Membership

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for

ZONES = ["UTC", "Europe/Berlin", "Asia/Kathmandu", "America/St_Johns"]
EDGES = [datetime(2026, 12, 6, 5, 12, 7, 123456, tzinfo=UTC),
         datetime(2026, 12, 6, 5, 12, 7, tzinfo=UTC),  # no fraction: isoformat writes none
         datetime(2026, 12, 6, 5, 12, 7, 120000, tzinfo=UTC),
         datetime(2026, 12, 6, 5, 12, 7, 1, tzinfo=UTC),
         datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # a DST change in Berlin
         datetime(1, 1, 1, 12, 0, 0, 5, tzinfo=UTC), datetime(9999, 12, 31, 0, 0, 0, tzinfo=UTC)]


def _random_times(n: int) -> list[datetime]:
    rng = random.Random(19)
    start = datetime(1000, 1, 1, tzinfo=UTC)
    span = (datetime(9999, 12, 1, tzinfo=UTC) - start) // timedelta(microseconds=1)
    out = [start + timedelta(microseconds=rng.randrange(span)) for _ in range(n)]
    return out + [t.replace(microsecond=0) for t in out[:n // 4]] + [
        t.replace(microsecond=t.microsecond // 1000 * 1000) for t in out[:n // 4]]


def _old(value: datetime | None, zone) -> str | None:
    """The list rows' time before delivery/api/times.py, on the datetime Django reads."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@pytest.mark.parametrize("zone", ZONES)
def test_every_text_shape_writes_what_the_datetime_wrote(zone):
    zone = ZoneInfo(zone)
    write = times.time_writer(zone)
    for value in EDGES + _random_times(2000):
        naive = value.replace(tzinfo=None)
        texts = [str(naive),  # Django's SQLite adapter: " ", six digits or none
                 naive.isoformat(timespec="microseconds"),  # PostgreSQL's to_char
                 naive.isoformat()]
        if value.microsecond % 1000 == 0:  # SQLite's strftime('%f')
            texts.append(naive.isoformat(" ", timespec="milliseconds"))
        for text in texts:
            assert write(text) == _old(value, zone), text
        assert write(value) == _old(value, zone)
    assert write(None) is None
    with pytest.raises(ValueError):
        write("not a time")


def _mask(content: bytes) -> bytes:
    # A headshot's link expires from now: two requests a second apart differ there.
    return re.sub(rb'/h/[^"/]+/', b"/h/TOKEN/", content)


@pytest.mark.django_db
def test_lists_give_the_same_bytes_as_reading_datetimes(tenant_a, monkeypatch):
    """The three lists on this database (SQLite or PostgreSQL), their times of every shape
    written into the rows, text times against the datetimes read before, every page."""
    company = tenant_a.company
    values = EDGES + _random_times(12)
    people = [tenant_a.member] + [
        MembershipFactory(company=company, team=tenant_a.team if n % 2 else None,
                          user=UserFactory(email=f"t{n}@alpha.example")) for n in range(12)]
    for n, person in enumerate(people):
        candidate = candidate_for(person, visible=n % 3 != 1)
        if n % 4 != 3:
            Headshot.objects.create(company=company, membership=person, candidate=candidate)
    members = Membership.objects.for_company(company)
    for n, person in enumerate(people):
        when = values[n % len(values)]
        # joined_at as given; updated_at by the database's trigger (SQLite: milliseconds).
        members.filter(pk=person.pk).update(joined_at=when, status=Membership.Status.APPROVED)
        Headshot.objects.for_company(company).filter(membership=person).update(
            approved_at=values[(n + 3) % len(values)])
        GenerationJob.objects.for_company(company).filter(membership=person).update(
            queued_at=when, started_at=values[(n + 5) % len(values)] if n % 3 else None,
            finished_at=None if n % 2 else values[(n + 7) % len(values)],
            updated_at=values[(n + 1) % len(values)])
    members.filter(pk=people[0].pk).update(updated_at=EDGES[1])
    _, raw = api_key_create(company=company, actor=tenant_a.owner, name="t", scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get("/api/v1/jobs/")  # the key's last-used time, once

    def pages(kind: str) -> list[bytes]:
        out, url = [], f"/api/v1/{kind}/?page_size=4&size=512"
        while url:
            response = client.get(url)
            assert response.status_code == 200
            out.append(_mask(response.content))
            url = response.json()["next"]
        return out

    assert times.text_times(connection)  # the platform's databases, times in UTC
    for zone in ("UTC", "Asia/Kathmandu"):
        with timezone.override(zone):
            for kind, rows in (("people", 13), ("headshots", 6), ("jobs", 13)):
                new = pages(kind)
                with monkeypatch.context() as patch:
                    patch.setattr(times, "text_times", lambda _connection: False)
                    old = pages(kind)
                assert new == old
                assert sum(page.count(b'"id":') for page in new) >= rows
