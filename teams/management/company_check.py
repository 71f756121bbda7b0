"""The shape of an operator command that checks every company's records (or one company's,
``--company SLUG``) and exits non-zero when anything is broken: ``ledger_verify`` and
``consent_verify`` differ only in what they check and how they name a problem."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.rls import rls_bypass
from teams.models import Company


class CompanyCheckCommand(BaseCommand):
    #: What is checked, as the messages name it ("credit ledger").
    subject: str
    #: Why the command crosses the database wall (every company is read).
    bypass_reason: str

    def problems(self, company: Company) -> Iterable[str]:
        """One line for each problem found in ``company``'s records (without the slug)."""
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="Only this company's slug")

    def handle(self, *args: object, **options: str) -> None:
        with rls_bypass(self.bypass_reason):
            companies = Company.objects.order_by("pk")
            if options.get("company"):
                companies = companies.filter(slug=options["company"])
                if not companies.exists():
                    raise CommandError(f"No company with the slug {options['company']!r}.")
            broken = 0
            for company in companies:
                for problem in self.problems(company):
                    broken += 1
                    self.stderr.write(f"{company.slug}: {problem}")
            if broken:
                raise CommandError(f"The {self.subject} is broken in {broken} place(s).")
            self.stdout.write(self.style.SUCCESS(
                f"{self.subject[0].upper()}{self.subject[1:]} intact for {companies.count()} "
                "company(ies)."))
