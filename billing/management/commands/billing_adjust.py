"""Correct a company's credits by hand, with a reason kept in its ledger."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.services import credit_balance, credits_adjust
from core.errors import ServiceError
from core.rls import rls_bypass
from teams.models import Company


class Command(BaseCommand):
    help = "Add (or with a negative number, remove) credits: billing_adjust acme 5 --reason '…'"

    def add_arguments(self, parser) -> None:
        parser.add_argument("company", help="the company's slug")
        parser.add_argument("credits", type=int)
        parser.add_argument("--reason", required=True)

    @rls_bypass("operator command: a manual credit adjustment of a named company")
    def handle(self, *args, company: str, credits: int, reason: str, **options) -> None:
        target = Company.objects.filter(slug=company).first()
        if target is None:
            raise CommandError(f"No company with the slug {company!r}.")
        try:
            credits_adjust(company=target, amount=credits, reason=reason, actor=None)
        except ServiceError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{target.name}: {credits:+d} credits; balance "
                          f"{credit_balance(company=target)}.")
