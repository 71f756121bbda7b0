from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from core.rls import tables_without_wall


class Command(BaseCommand):
    help = ("List tenant tables (a non-null company foreign key) that lack row-level security "
            "(enabled and forced) or the tenant_wall policy; exits non-zero when any does. "
            "PostgreSQL only: on SQLite the application wall stands alone.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: object, **options: str) -> None:
        if connections[options["database"]].vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: no row-level security here (application wall only).")
            return
        missing = tables_without_wall(options["database"])
        for table in missing:
            self.stdout.write(f"missing: {table}")
        if missing:
            raise CommandError(
                f"{len(missing)} tenant table(s) without the tenant_wall: add "
                "migrations.RunPython(*rls_enable(tables=[...])) to the migration that made them.")
        self.stdout.write(self.style.SUCCESS("Every tenant table has the tenant_wall."))
