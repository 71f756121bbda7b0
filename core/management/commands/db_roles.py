from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

# Run by the tables' owner (the role migrations run as). Idempotent; two processes running
# it at once (parallel test workers) both succeed.
_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN
        CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
"""
_GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role};
"""


class Command(BaseCommand):
    help = ("Create the application's database role (no owner of any table, no BYPASSRLS) and "
            "grant it the rows of every table. Run as the tables' owner, after migrate; the "
            "application then connects as this role (or a login role granted it), so the "
            "row-level security policies hold it (README: Row-level security).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS,
                            help="The alias that connects as the owner (e.g. migrate).")
        parser.add_argument("--role", default="likeness_app")
        parser.add_argument("--login-role", default="",
                            help="An existing login role to grant the application role to.")

    def handle(self, *args: object, **options: str) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            raise CommandError("db_roles is for PostgreSQL; SQLite has no roles.")
        quote = connection.ops.quote_name
        role = quote(options["role"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT quote_literal(%s), quote_ident(current_schema())",
                           [options["role"]])
            literal, schema = cursor.fetchone()
            cursor.execute(_ROLE.format(literal=literal, role=role))
            cursor.execute(_GRANTS.format(schema=schema, role=role))
            if options["login_role"]:
                cursor.execute(f"GRANT {role} TO {quote(options['login_role'])}")
        self.stdout.write(self.style.SUCCESS(f"Role {options['role']} ready on schema {schema}."))
