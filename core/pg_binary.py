"""One row of a queryset read in PostgreSQL's binary format.

Django reads every value as text: a ``bytea`` value comes as hex, twice its size, which the
server encodes and the client decodes. For a value of megabytes that is most of the read
(generation's colleague index, 5 MB at 5,000 people: 75 ms as hex, 13 ms as bytes,
measured). Django has no binary reads, so this runs the queryset's own SQL on a psycopg
cursor that binds on the server and asks for binary results, on Django's connection (its
transaction and its row-level security settings apply). Other databases return bytes
already: there it is the queryset's ``first()``.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import QuerySet


def first_row_binary(queryset: QuerySet) -> tuple[Any, ...] | None:
    """The first row of a ``values_list()`` queryset (ordered as the caller wants), values
    as the database driver gives them: ``bytea`` as ``bytes``, no field converters (use it
    for plain columns: numbers, text, bytes)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.first()
    import psycopg

    sql, params = queryset[:1].query.sql_with_params()
    connection.ensure_connection()
    # Not Django's cursor: its client-side binding cannot ask for binary results. So this
    # statement is not in Django's query log (connection.queries, CaptureQueriesContext).
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchone()
