"""The uniformity report: does a team look like one shoot?"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generation.models import Candidate
from generation.selectors import uniformity_report
from teams.models import Membership

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for, db_fingerprint

pytestmark = pytest.mark.django_db

STEADY = {"backdrop_delta_e": 1.2, "face_height": 0.33, "face_centre_x": 0.5, "eye_line": 0.42,
          "roll_degrees": 0.5, "flags": []}


def _person(tenant, email: str, **conformance) -> Candidate:
    membership = MembershipFactory(company=tenant.company, team=tenant.team,
                                   user=UserFactory(email=email, full_name=email.split("@")[0]),
                                   status=Membership.Status.REVIEW)
    candidate = candidate_for(membership)
    Candidate.objects.for_company(tenant.company).filter(pk=candidate.pk).update(
        conformance={**STEADY, **conformance})
    return candidate


def test_the_report_shows_spread_and_the_photo_that_stands_out(tenant_a):
    _person(tenant_a, "ann@alpha.example", face_height=0.32)
    _person(tenant_a, "bob@alpha.example", face_height=0.335, roll_degrees=0.8)
    _person(tenant_a, "cat@alpha.example", face_height=0.34)
    odd = _person(tenant_a, "dan@alpha.example", face_height=0.47, flags=["face_size"])
    tilted = _person(tenant_a, "eve@alpha.example", roll_degrees=0.2, backdrop_delta_e=9.0,
                     flags=["backdrop"])

    (team,) = uniformity_report(company=tenant_a.company)
    assert team["team"]["pk"] == tenant_a.team.pk and len(team["people"]) == 5
    by_key = {m["key"]: m for m in team["metrics"]}
    assert by_key["face_height"]["spread"] == "15%"  # 0.47 - 0.32
    assert by_key["face_height"]["outliers"] == {odd.pk}
    assert by_key["backdrop_delta_e"]["outliers"] == {tilted.pk}
    assert team["outliers"] == 2

    page = tenant_a.client_for(tenant_a.admin).get(
        reverse("generation:uniformity", kwargs={"company_slug": "alpha"})).content.decode()
    assert "2 stand out" in page
    assert page.count('class="selfie outlier"') == 2
    # The photos are side by side, and the odd one's cell is marked.
    for email in ("ann", "bob", "cat", "dan", "eve"):
        assert f'alt="{email}"' in page
    assert re.search(r'class="outlier">47%', page)


def test_members_and_other_companies_cannot_see_it(tenant_a, tenant_b):
    _person(tenant_a, "ann@alpha.example")
    url = reverse("generation:uniformity", kwargs={"company_slug": "alpha"})
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    assert member.get(url).status_code == 403
    assert outsider.get(url).status_code == 404
    assert db_fingerprint() == before
