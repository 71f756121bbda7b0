"""A list page's times read as text the database writes, not as datetimes.

Reading a time as a datetime and writing it back out as DRF does cost ~6 µs a value on
SQLite (sqlite3's parser, Django's converter making it aware, astimezone, isoformat) and
~4 µs on PostgreSQL: a job row has four times, so most of a row's cost. The list views
read each time as its UTC text instead (``utc_times``), and ``time_writer`` turns that text
into DRF's string with slicing alone when the answer is in UTC (the default). Anything
else (another time zone, a text of an unexpected shape) goes the old way: parsed into the
datetime Django would have given, then written as before. tests/test_api_times.py compares
both ways on the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo

from django.conf import settings
from django.db.models import CharField, F, Func
from django.utils.dateparse import parse_datetime

SUFFIX = "_utc"  # a time column `updated_at` is read as `updated_at_utc`


class UtcText(Func):
    """The time as UTC text: SQLite's stored text as is (Django writes ``YYYY-MM-DD
    HH:MM:SS[.ffffff]`` in UTC; triggers ``…SS.fff``), PostgreSQL's ``to_char`` with six
    fraction digits. The SQL of the other databases is not written: those read datetimes."""

    arity = 1
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # CAST: a bare column would be parsed by sqlite3's converter for its declared type.
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS TEXT)",
                           **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection,
            template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')""",
            **extra_context)


def text_times(connection) -> bool:
    """Whether ``connection`` reads times as UTC text: SQLite or PostgreSQL, times kept in
    UTC (no TIME_ZONE of the database's own)."""
    return (connection.vendor in ("sqlite", "postgresql") and settings.USE_TZ
            and connection.timezone_name == "UTC")


def utc_times(fields: Iterable[str], connection) -> dict[str, Func | F]:
    """Annotations reading each time field (a path such as ``headshot__approved_at``) as
    ``<field>_utc`` with "__" as "_": UTC text where ``text_times``, else the datetime."""
    as_text = text_times(connection)
    return {field.replace("__", "_") + SUFFIX: UtcText(field) if as_text else F(field)
            for field in fields}


def _utc_iso(text: str) -> str | None:
    """DRF's string of the UTC time whose text the database gave (``…Z``), by slicing; None
    for a text of another shape. Six fraction digits unless all are zero, as isoformat."""
    size = len(text)
    if size == 19:
        return f"{text[:10]}T{text[11:]}Z"
    if size == 26 and text[19] == ".":
        return f"{text[:10]}T{text[11:19]}Z" if text.endswith("000000") \
            else f"{text[:10]}T{text[11:]}Z"
    if size == 23 and text[19] == ".":  # SQLite's strftime('%f'): milliseconds
        return f"{text[:10]}T{text[11:19]}Z" if text.endswith("000") \
            else f"{text[:10]}T{text[11:]}000Z"
    return None


def db_time(value: str | datetime) -> datetime:
    """The aware datetime Django reads for a UTC text (or a datetime, as it is)."""
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a time: {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _drf_time(value: datetime, zone: tzinfo) -> str:
    """As DRF's DateTimeField writes it (ISO 8601 in the time zone, "Z" for UTC)."""
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def time_writer(zone: tzinfo) -> Callable[[str | datetime | None], str | None]:
    """Writes a time read by ``utc_times`` as DRF writes it in ``zone``."""
    in_utc = str(zone) == "UTC"  # ZoneInfo("UTC") and datetime.UTC

    def write(value: str | datetime | None) -> str | None:
        if value is None:
            return None
        if in_utc and type(value) is str:
            text = _utc_iso(value)
            if text is not None:
                return text
        return _drf_time(db_time(value), zone)

    return write
