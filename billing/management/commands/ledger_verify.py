from __future__ import annotations

from collections.abc import Iterator

from billing.ledger import ledger_verify
from teams.management.company_check import CompanyCheckCommand
from teams.models import Company


class Command(CompanyCheckCommand):
    help = ("Verify every company's credit ledger against its signed, anchored head and "
            "checkpoints; exits non-zero if an entry was removed, inserted or altered.")
    subject = "credit ledger"
    bypass_reason = "operator command: verifies every company's credit ledger"

    def problems(self, company: Company) -> Iterator[str]:
        for problem in ledger_verify(company_id=company.pk):
            where = f"entry #{problem.position}" if problem.position else "ledger"
            yield f"{where} {problem.problem}"
