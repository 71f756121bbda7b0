"""Demo data for the embedded default: one company you can click through (its people;
generation/demo.py adds the rest)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .models import Company, Membership, Team, User
from .services.companies import company_create, user_get_or_create
from .services.invitations import (
    invitation_create,
    invitation_token_renew,
    invitation_url,
    invite_link_create,
)

DEMO_SLUG = "acme"
DEMO_PASSWORD = "likeness-demo-password"


@dataclass
class DemoCompany:
    company: Company
    owner: User
    admin: User
    invite_link_url: str
    employee_invite_urls: dict[str, str]


@transaction.atomic
def demo_people_seed() -> DemoCompany:
    """Create the Acme demo company and its people (generation/demo.py makes way for it
    first, and adds an approved look)."""
    company = company_create(
        name="Acme Corporation", slug=DEMO_SLUG, owner_email="owner@acme.example",
        owner_name="Olivia Owner",
    )
    company.allowed_domains = ["acme.example"]
    company.save(update_fields=["allowed_domains"])
    owner = User.objects.get(email="owner@acme.example")
    owner.set_password(DEMO_PASSWORD)
    owner.save(update_fields=["password"])

    engineering = Team.objects.create(company=company, name="Engineering")
    sales = Team.objects.create(company=company, name="Sales")
    admin = user_get_or_create(email="admin@acme.example", full_name="Adam Admin")
    admin.set_password(DEMO_PASSWORD)
    admin.save(update_fields=["password"])
    now = timezone.now()
    Membership.objects.create(
        company=company, user=admin, role=Membership.Role.ADMIN, status=Membership.Status.JOINED,
        joined_at=now, team=sales,
    )
    joined = [("erin@acme.example", "Erin Engineer", engineering, "Backend engineer"),
              ("sam@acme.example", "Sam Seller", sales, "Account executive")]
    for email, name, team, title in joined:
        user = user_get_or_create(email=email, full_name=name)
        Membership.objects.create(
            company=company, user=user, status=Membership.Status.JOINED, joined_at=now,
            team=team, job_title=title,
        )
    invite_urls: dict[str, str] = {}
    for email, name, team in [("ivy@acme.example", "Ivy Invited", engineering),
                              ("noah@acme.example", "Noah New", sales)]:
        invitation = invitation_create(
            company=company, email=email, full_name=name, team=team, created_by=owner,
            send=False,
        )
        # Saved unsent: the demo prints the links instead of mailing them.
        raw = invitation_token_renew(company=company, invitation=invitation, sent=False)
        invite_urls[email] = invitation_url(raw)
    _, link_url = invite_link_create(
        company=company, created_by=owner, label="Everyone at Acme", max_uses=100
    )
    return DemoCompany(company=company, owner=owner, admin=admin, invite_link_url=link_url,
                       employee_invite_urls=invite_urls)
