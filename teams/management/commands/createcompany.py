from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.errors import ServiceError
from core.rls import rls_bypass
from teams.models import Membership
from teams.services.auth import password_setup_url
from teams.services.companies import company_create, domains_parse


class Command(BaseCommand):
    help = "Create a company and its owner; prints a one-time link to set the owner's password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="Used in addresses: /c/<slug>/")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-name", default="")
        parser.add_argument("--domains", default="", help="Allowed e-mail domains, comma-separated")

    @rls_bypass("operator command: creates a company and its owner")
    def handle(self, *args: object, **options: str) -> None:
        try:
            # Parsed first, and in one transaction: a bad value creates no company.
            domains = domains_parse(options["domains"]) if options["domains"] else []
            with transaction.atomic():
                company = company_create(
                    name=options["name"], slug=options["slug"],
                    owner_email=options["owner_email"], owner_name=options["owner_name"],
                )
                if domains:
                    company.allowed_domains = domains
                    company.save(update_fields=["allowed_domains"])
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        owner = Membership.objects.for_company(company).get(role=Membership.Role.OWNER).user
        self.stdout.write(self.style.SUCCESS(f"Created {company.name} at /c/{company.slug}/"))
        self.stdout.write(f"Owner {owner.email}: set a password (link works once):")
        self.stdout.write(password_setup_url(user=owner))
