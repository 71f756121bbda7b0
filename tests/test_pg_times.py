"""core/pg_times.py: timestamptz read by psycopg's C loader gives what Django's loader gives."""

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader

from core.pg_times import install

pytestmark = pytest.mark.django_db

TIMES = [
    "2026-12-06 03:34:07.123456+00", "2026-12-06 03:34:07+00", "2026-12-06 03:34:07.5+00",
    "0001-01-01 00:00:00+00", "0001-01-01 00:00:00.000001-05", "9999-12-31 23:59:59.999999+00",
    "2026-03-29 01:30:00+01", "2026-10-25 02:30:00+02", "1900-01-01 12:00:00.5+00:09:21",
    "1970-01-01 00:00:00+00", "2000-02-29 23:59:59.999999-14", "2016-12-31 23:59:60+00",
]
REFUSED = ["2000-01-01 00:00:00 BC", "0001-01-01 00:00:00+05", "infinity", "-infinity",
           "10000-01-01 00:00:00+00"]


def _random_times(n: int) -> list[datetime]:
    rng = random.Random(19)
    start = datetime(1, 1, 2, tzinfo=UTC)
    span = (datetime(9999, 12, 30, tzinfo=UTC) - start) // timedelta(microseconds=1)
    return [start + timedelta(microseconds=rng.randrange(span)) for _ in range(n)]


def _read(sql: str, params: list, *, django_loader: bool) -> list:
    with connection.cursor() as cursor:
        if django_loader:
            register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _outcome(text: str, *, django_loader: bool):
    try:
        return _read("SELECT %s::timestamptz", [text], django_loader=django_loader)[0]
    except DataError as error:  # Django's, wrapping psycopg's
        return type(error.__cause__), str(error)


def test_our_connections_read_timestamptz_with_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT)
    assert loader.__module__ == "core.pg_times"
    # Django's create_cursor() keeps it (it registers its own when the zones differ).
    assert loader.timezone is connection.timezone


def test_the_c_loader_gives_djangos_values_and_zone():
    texts = TIMES + [t.isoformat() for t in _random_times(3000)]
    sql = "SELECT unnest(%s::timestamptz[])"
    ours = _read(sql, [texts], django_loader=False)
    django = _read(sql, [texts], django_loader=True)
    assert ours == django
    assert [(t.tzinfo, t.fold) for t in ours] == [(t.tzinfo, t.fold) for t in django]
    assert all(t.tzinfo is connection.timezone for t in ours)


def test_times_django_refuses_are_refused_and_the_rest_read_alike():
    for text in REFUSED + TIMES:
        ours = _outcome(text, django_loader=False)
        assert ours == _outcome(text, django_loader=True), text
        if isinstance(ours, datetime):
            assert ours.tzinfo is connection.timezone


def test_model_fields_read_the_same_times(tenant_a):
    from teams.models import Company

    company = tenant_a.company
    stored = Company.objects.values_list("created_at", flat=True).get(pk=company.pk)
    assert stored == company.created_at and stored.tzinfo is UTC


def test_only_a_postgresql_connection_in_utc_gets_the_c_loader():
    registered = []

    class Adapters:
        def register_loader(self, name, loader):
            registered.append((name, loader.timezone))

    class Connection:
        def __init__(self, vendor: str, zone_name: str):
            self.vendor, self.timezone_name, self.timezone = vendor, zone_name, UTC
            self.connection = type("Raw", (), {"adapters": Adapters()})()

    for vendor, zone_name in (("postgresql", "Europe/Paris"), ("sqlite", "UTC"), ("postgresql", "UTC")):
        install(sender=None, connection=Connection(vendor, zone_name))
    assert registered == [("timestamptz", UTC)]
