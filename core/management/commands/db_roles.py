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
        parser.add_argument("--login-from", default="",
                            help="A database alias (e.g. default) whose user is the login role "
                                 "the application connects as: created with that alias's "
                                 "password when missing, and granted the application role.")

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
            if options["login_from"]:
                self._login_role(cursor, connection, role, options["login_from"])
        self.stdout.write(self.style.SUCCESS(f"Role {options['role']} ready on schema {schema}."))

    def _login_role(self, cursor, owner, role: str, alias: str) -> None:
        """The application's login role, as ``alias`` connects: created (LOGIN, nothing more)
        with its password when missing, then granted ``role``. A deployment can so hand the
        application a role of its own from its two URLs, with no SQL by hand."""
        if alias not in connections.settings:
            raise CommandError(f"No database alias {alias!r} (there are: "
                               f"{', '.join(connections.settings)}).")
        login = connections.settings[alias]
        user, password = login.get("USER") or "", login.get("PASSWORD") or ""
        if not user:
            raise CommandError(f"The {alias} database settings name no user.")
        if user == owner.settings_dict.get("USER"):
            # Granting a role to the tables' owner changes nothing: the owner is not held.
            self.stderr.write(self.style.WARNING(
                f"{alias} connects as the tables' owner {user}: row-level security will not "
                "hold the application. Give DATABASE_URL a role of its own."))
            return
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user])
        if cursor.fetchone() is None:
            if not password:
                raise CommandError(f"Role {user} does not exist and {alias} gives no password.")
            # DDL takes no bind parameters: the server quotes the password (format's %L).
            cursor.execute("SELECT format('CREATE ROLE %%I LOGIN PASSWORD %%L NOSUPERUSER "
                           "NOBYPASSRLS NOCREATEDB NOCREATEROLE', %s::text, %s::text)",
                           [user, password])
            cursor.execute(cursor.fetchone()[0])
        cursor.execute(f"GRANT {role} TO {owner.ops.quote_name(user)}")
        self.stdout.write(f"Login role {user} holds {role}.")
