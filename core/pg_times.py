"""PostgreSQL's ``timestamptz`` read by psycopg's C loader, with Django's result.

Django registers its own loader for ``timestamptz`` on every connection
(``django.db.backends.postgresql.psycopg_any.BaseTzLoader``): it subclasses psycopg's
*pure-Python* loader and swaps the result's tzinfo for the connection's. psycopg's C
extension (psycopg-binary, which we install) has a loader for the same text that is ~10x
cheaper, but Django's subclass never reaches it. A list of 50 rows with four times a row
(the API's jobs) spent most of its fetch parsing times in Python.

The loader here gives the same value Django's does: the C loader parses what the Python one
would (both convert to the session's time zone), and the tzinfo is then the connection's, as
Django's ``replace(tzinfo=...)`` makes it. It is installed only where that is plainly the
same: the connection's zone is UTC (so no time is ambiguous and ``fold`` is always 0) and
the C module is there. tests/test_pg_times.py compares the two loaders on the same values,
the times both refuse (BC, infinity, past year 9999) included.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db.backends.signals import connection_created

try:
    from psycopg import adapt
    from psycopg._cmodule import _psycopg as _c  # what psycopg itself uses for its C adapters
except ImportError:  # no psycopg, or no C module: Django's loader stays
    _c = None


@cache  # one class a zone, as Django's get_adapters_template() is cached
def _loader_for(zone) -> type | None:
    if _c is None:
        return None
    c_loader = _c.TimestamptzLoader

    class CTimestamptzLoader(adapt.Loader):
        # Django's create_cursor() compares this with the connection's zone: equal, it
        # keeps the loader instead of registering its own on the cursor.
        timezone = zone

        def __init__(self, oid: int, context: Any = None):
            super().__init__(oid, context)
            self._c = c_loader(oid, context)

        def load(self, data):
            value = self._c.load(data)
            return value if value.tzinfo is zone else value.replace(tzinfo=zone)

    return CTimestamptzLoader


def install(sender, connection, **kwargs) -> None:
    """On a new PostgreSQL connection whose zone is UTC, read ``timestamptz`` with the C loader."""
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return
    adapters = getattr(connection.connection, "adapters", None)  # psycopg 3 only
    loader = _loader_for(connection.timezone)
    if adapters is not None and loader is not None:
        adapters.register_loader("timestamptz", loader)


def connect() -> None:
    connection_created.connect(install, dispatch_uid="core.pg_times")
