from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.ledger import ledger_verify
from core.rls import rls_bypass
from teams.models import Company


class Command(BaseCommand):
    help = ("Verify every company's credit ledger against its signed, anchored head and "
            "checkpoints; exits non-zero if an entry was removed, inserted or altered.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="Only this company's slug")

    @rls_bypass("operator command: verifies every company's credit ledger")
    def handle(self, *args: object, **options: str) -> None:
        companies = Company.objects.order_by("pk")
        if options.get("company"):
            companies = companies.filter(slug=options["company"])
            if not companies.exists():
                raise CommandError(f"No company with the slug {options['company']!r}.")
        broken = 0
        for company in companies:
            for problem in ledger_verify(company_id=company.pk):
                broken += 1
                where = f"entry #{problem.position}" if problem.position else "ledger"
                self.stderr.write(f"{company.slug}: {where} {problem.problem}")
        if broken:
            raise CommandError(f"The credit ledger is broken in {broken} place(s).")
        self.stdout.write(self.style.SUCCESS(f"Credit ledger intact for {companies.count()} "
                                             "company(ies)."))
