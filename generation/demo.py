"""The demo company of the embedded default (``manage.py demo``): teams' people
(teams/demo.py) and an approved company look, so employees can make headshots at once.
Here, above both teams and generation, because it needs both."""

from __future__ import annotations

from django.db import transaction

from teams.demo import DEMO_PASSWORD, DemoCompany, demo_people_seed
from teams.models import Membership

from .services.looks import look_version_approve, look_version_create

__all__ = ["DEMO_PASSWORD", "DemoCompany", "demo_seed"]


@transaction.atomic
def demo_seed() -> DemoCompany:
    """Create (or recreate) the Acme demo company, ready to make headshots."""
    demo = demo_people_seed()
    owner = Membership.objects.for_company(demo.company).get(role=Membership.Role.OWNER)
    version = look_version_create(company=demo.company, actor=owner, team=None,
                                  preset="corporate")
    look_version_approve(company=demo.company, actor=owner, version=version,
                         require_preview=False)
    return demo
