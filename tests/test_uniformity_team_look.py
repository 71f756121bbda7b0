"""Team uniformity is measured against the team's approved look version, not each photo
against the look it was made for: a navy and a grey backdrop in one team stand out."""

from __future__ import annotations

import numpy as np
import pytest

from generation.colour import hex_to_rgb, srgb_to_lab
from generation.models import Candidate
from generation.selectors import uniformity_report
from teams.models import Membership

from .factories import MembershipFactory, UserFactory
from .helpers import approved_look, candidate_for

pytestmark = pytest.mark.django_db
FRAMED = {"face_height": 0.33, "face_centre_x": 0.5, "eye_line": 0.42, "roll_degrees": 0.5,
          "flags": []}


def _lab(hex_colour: str) -> list[float]:
    return [round(float(v), 2) for v in srgb_to_lab(np.array(hex_to_rgb(hex_colour), float))]


def _person(tenant, email: str, backdrop: str) -> Candidate:
    membership = MembershipFactory(company=tenant.company, team=tenant.team,
                                   user=UserFactory(email=email, full_name=email.split("@")[0]),
                                   status=Membership.Status.REVIEW)
    candidate = candidate_for(membership)
    # Each photo is true to the look it was made with (ΔE about 1 against its own).
    Candidate.objects.for_company(tenant.company).filter(pk=candidate.pk).update(
        conformance={**FRAMED, "backdrop_delta_e": 1.0, "backdrop_lab": _lab(backdrop)})
    return candidate


def test_a_navy_backdrop_in_a_grey_team_stands_out(tenant_a):
    approved_look(tenant_a.company, preset="corporate", team=tenant_a.team)  # grey #6B7580
    grey = [_person(tenant_a, f"{n}@alpha.example", "#6C7681") for n in ("ann", "bob")]
    navy = _person(tenant_a, "cat@alpha.example", "#1E2A38")  # the executive preset's navy
    (team,) = uniformity_report(company=tenant_a.company)
    assert team["version"].backdrop_color == "#6B7580"
    backdrop = next(m for m in team["metrics"] if m["key"] == "backdrop_delta_e")
    assert backdrop["outliers"] == {navy.pk}
    cells = {p["photo"]["pk"]: p["cells"][0]["value"] for p in team["people"]}
    assert float(cells[navy.pk]) > 20 and all(float(cells[g.pk]) < 2 for g in grey)
    assert team["outliers"] == 1


def test_two_photos_one_navy_one_grey_are_flagged_even_without_a_majority(tenant_a):
    approved_look(tenant_a.company, preset="corporate", team=tenant_a.team)
    grey = _person(tenant_a, "ann@alpha.example", "#6B7580")
    navy = _person(tenant_a, "cat@alpha.example", "#1E2A38")
    (team,) = uniformity_report(company=tenant_a.company)
    backdrop = next(m for m in team["metrics"] if m["key"] == "backdrop_delta_e")
    assert backdrop["outliers"] == {navy.pk} and grey.pk not in backdrop["outliers"]
