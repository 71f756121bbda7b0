"""Who is told a team is ready or a balance is low, and who the security page lists: a
company's admins (``company_admins``) are found on an index of their own, a few entries
however many people the company has (issue 19)."""

from __future__ import annotations

import pytest
from django.db import connection

from teams.models import Membership, User
from teams.selectors import company_admins

pytestmark = pytest.mark.django_db


def test_a_large_companys_admins_are_read_from_their_own_index(tenant_a, tenant_b):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plan")
    users = User.objects.bulk_create(User(email=f"p{i}@alpha.example") for i in range(3000))
    Membership.objects.bulk_create(
        Membership(company=tenant_a.company, user=user, role=Membership.Role.MEMBER)
        for user in users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE teams_membership")
    admins = company_admins(company=tenant_a.company)
    plan = admins.explain()
    assert "member_admins" in plan, plan
    assert {m.pk for m in admins} == {tenant_a.owner.pk, tenant_a.admin.pk}
