"""The demo company of the embedded default (``manage.py demo``): teams' people
(teams/demo.py) and an approved company look, so employees can make headshots at once.
Here, above both teams and generation, because it needs both."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from privacy.erasure import company_erase
from teams.demo import DEMO_PASSWORD, DEMO_SLUG, DemoCompany, demo_people_seed
from teams.models import Company, Membership

from .services.looks import look_version_approve, look_version_create

__all__ = ["DEMO_PASSWORD", "DemoCompany", "demo_seed"]


def _demo_retire(company: Company) -> None:
    """Make way for a fresh demo company without deleting the old one.

    Deleting it would delete its consent log and credit ledger, which are append-only: the
    database refuses (PostgreSQL's triggers), and rightly so for any company. So the old demo
    company goes the way every company goes: closed, everyone's data erased (their accounts
    too, which frees the demo e-mail addresses), its audit logs kept; then renamed so that
    its address is free again.
    """
    Company.objects.filter(pk=company.pk).update(
        slug=f"{DEMO_SLUG}-retired-{company.pk}", name=f"{company.name} (retired demo)",
        closed_at=company.closed_at or timezone.now())
    company.refresh_from_db()
    company_erase(company=company)


@transaction.atomic
def demo_seed() -> DemoCompany:
    """Create (or recreate) the Acme demo company, ready to make headshots."""
    previous = Company.objects.filter(slug=DEMO_SLUG).first()
    if previous is not None:
        _demo_retire(previous)
    demo = demo_people_seed()
    owner = Membership.objects.for_company(demo.company).get(role=Membership.Role.OWNER)
    version = look_version_create(company=demo.company, actor=owner, team=None,
                                  preset="corporate")
    look_version_approve(company=demo.company, actor=owner, version=version,
                         require_preview=False)
    return demo
