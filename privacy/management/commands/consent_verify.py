from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.rls import rls_bypass
from privacy.services import consent_chain_verify
from teams.models import Company


class Command(BaseCommand):
    help = "Verify every company's consent-log hash chain; exits non-zero on any break."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="Only this company's slug")

    @rls_bypass("operator command: verifies every company's consent log")
    def handle(self, *args: object, **options: str) -> None:
        companies = Company.objects.order_by("pk")
        if options.get("company"):
            companies = companies.filter(slug=options["company"])
            if not companies.exists():
                raise CommandError(f"No company with the slug {options['company']!r}.")
        broken = 0
        for company in companies:
            for problem in consent_chain_verify(company=company):
                broken += 1
                self.stderr.write(
                    f"{problem.company_slug}: consent record {problem.record_id} {problem.problem}"
                )
        if broken:
            raise CommandError(f"The consent log is broken in {broken} place(s).")
        self.stdout.write(self.style.SUCCESS(f"Consent log intact for {companies.count()} "
                                             "company(ies)."))
