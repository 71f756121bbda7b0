"""Demo data for the embedded default: one company you can click through."""

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


def _demo_retire(company: Company) -> None:
    """Make way for a fresh demo company without deleting the old one.

    Deleting it would delete its consent log and credit ledger, which are append-only: the
    database refuses (PostgreSQL's triggers), and rightly so for any company. So the old demo
    company goes the way every company goes: closed, everyone's data erased (their accounts
    too, which frees the demo e-mail addresses), its audit logs kept; then renamed so that
    its address is free again.
    """
    from privacy.erasure import company_erase

    Company.objects.filter(pk=company.pk).update(
        slug=f"{DEMO_SLUG}-retired-{company.pk}", name=f"{company.name} (retired demo)",
        closed_at=company.closed_at or timezone.now())
    company.refresh_from_db()
    company_erase(company=company)


@transaction.atomic
def demo_seed() -> DemoCompany:
    """Create (or recreate) the Acme demo company."""
    previous = Company.objects.filter(slug=DEMO_SLUG).first()
    if previous is not None:
        _demo_retire(previous)
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
    # An approved company look, so employees can make headshots straight away.
    from generation.services.looks import look_version_approve, look_version_create

    owner_membership = Membership.objects.for_company(company).get(role=Membership.Role.OWNER)
    version = look_version_create(company=company, actor=owner_membership, team=None,
                                  preset="corporate")
    look_version_approve(company=company, actor=owner_membership, version=version,
                         require_preview=False)
    _, link_url = invite_link_create(
        company=company, created_by=owner, label="Everyone at Acme", max_uses=100
    )
    return DemoCompany(company=company, owner=owner, admin=admin, invite_link_url=link_url,
                       employee_invite_urls=invite_urls)
