from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from core.rls import rls_bypass
from privacy.sweeper import retention_sweep


class Command(BaseCommand):
    help = "Run the retention sweeper now, chunk after chunk, until nothing is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk", type=int, default=200)

    @rls_bypass("operator command: the retention sweep over every company")
    def handle(self, *args: object, **options: int) -> None:
        total, deleted = 0, {}
        while True:
            result = retention_sweep(limit=options["chunk"])
            total += result.total
            for rule, count in result.deleted.items():
                deleted[rule] = deleted.get(rule, 0) + count
            if not result.more:
                break
        for rule, count in sorted(deleted.items()):
            if count:
                self.stdout.write(f"{rule}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Swept: {total} object(s) deleted, with receipts."))
