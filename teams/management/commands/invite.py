from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.rls import rls_bypass
from teams.models import Company, Membership
from teams.services.invitations import invitations_create_many


class Command(BaseCommand):
    help = "Invite people to a company by e-mail: manage.py invite <slug> a@x.com b@x.com"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("company", help="The company's slug")
        parser.add_argument("emails", nargs="+")

    @rls_bypass("operator command: invites people to a named company")
    def handle(self, *args: object, **options: object) -> None:
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with the slug {options['company']!r}.")
        owner = Membership.objects.for_company(company).get(role=Membership.Role.OWNER).user
        outcomes = invitations_create_many(
            company=company, created_by=owner, text=" ".join(options["emails"])  # type: ignore[arg-type]
        )
        failed = 0
        for outcome in outcomes:
            style = self.style.SUCCESS if outcome.ok else self.style.ERROR
            self.stdout.write(style(f"{outcome.email}: {outcome.message}"))
            failed += not outcome.ok
        if failed:
            raise CommandError(f"{failed} address(es) were not invited.")
