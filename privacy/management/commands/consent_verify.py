from __future__ import annotations

from collections.abc import Iterator

from privacy.services import consent_chain_verify
from teams.management.company_check import CompanyCheckCommand
from teams.models import Company


class Command(CompanyCheckCommand):
    help = "Verify every company's consent-log hash chain; exits non-zero on any break."
    subject = "consent log"
    bypass_reason = "operator command: verifies every company's consent log"

    def problems(self, company: Company) -> Iterator[str]:
        for problem in consent_chain_verify(company=company):
            yield f"consent record {problem.record_id} {problem.problem}"
