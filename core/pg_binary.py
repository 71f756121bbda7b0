"""One row of a queryset read, or an update written, in PostgreSQL's binary format.

Django reads every value as text: a ``bytea`` value comes as hex, twice its size, which the
server encodes and the client decodes. For a value of megabytes that is most of the read
(generation's colleague index, 5 MB at 5,000 people: 75 ms as hex, 13 ms as bytes,
measured); written, it is a literal of the same size in the statement's text (7 MB: 145 ms
against 31 ms sent as a binary parameter). Django has neither, so this runs the queryset's
own SQL on a psycopg cursor that binds on the server, asking for binary results or sending
binary parameters, on Django's connection (its transaction and its row-level security
settings apply). Other databases take and return bytes already: there it is the
queryset's own ``first()`` or ``update()``.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery


def first_row_binary(queryset: QuerySet) -> tuple[Any, ...] | None:
    """The first row of a ``values_list()`` queryset (ordered as the caller wants), values
    as the database driver gives them: ``bytea`` as ``bytes``, no field converters (use it
    for plain columns: numbers, text, bytes)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.first()
    _fail_closed(queryset)  # Django's own read would check when it fetched; this one doesn't
    import psycopg

    sql, params = queryset[:1].query.sql_with_params()
    connection.ensure_connection()
    # Not Django's cursor: its client-side binding cannot ask for binary results. So this
    # statement is not in Django's query log (connection.queries, CaptureQueriesContext).
    with psycopg.Cursor(connection.connection) as cursor:
        # Never a named prepared statement (psycopg makes one at the fifth run): Django's
        # own statements are not prepared either, and a transaction pooler loses them.
        cursor.execute(sql, params, binary=True, prepare=False)
        return cursor.fetchone()


def update_binary(queryset: QuerySet, **values: Any) -> int:
    """``queryset.update(**values)`` (scoped as it is, unsliced), its parameters sent
    bound on the server: ``bytes`` travel as bytes. Returns the rows changed."""
    queryset._for_write = True  # as QuerySet.update: the database written to
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.update(**values)
    _fail_closed(queryset)
    if queryset.query.is_sliced:
        raise TypeError("Cannot update a query once a slice has been taken.")
    import psycopg

    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    statement, params = query.get_compiler(queryset.db).as_sql()
    if not statement:
        return 0
    connection.ensure_connection()
    with transaction.mark_for_rollback_on_error(using=queryset.db), \
            psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params, prepare=False)
        return cursor.rowcount


def _fail_closed(queryset: QuerySet) -> None:
    """A TenantQuerySet that names no company raises, as its own reads and writes do."""
    check_scoped = getattr(queryset, "_check_scoped", None)
    if check_scoped is not None:
        check_scoped()
