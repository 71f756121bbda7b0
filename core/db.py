"""Database rules that migrations install: tables whose rows, once written, never change."""

from __future__ import annotations

from collections.abc import Callable

_CREATE = """
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {table}_append_only
BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
"""

_DROP = """
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP FUNCTION IF EXISTS {table}_append_only();
"""


def append_only(table: str) -> tuple[Callable, Callable]:
    """RunPython's (forwards, backwards) for a trigger that refuses UPDATE and DELETE on
    ``table`` (PostgreSQL; the embedded SQLite relies on the services alone)."""

    def forwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_CREATE.format(table=table), params=None)

    def backwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_DROP.format(table=table), params=None)

    return forwards, backwards
