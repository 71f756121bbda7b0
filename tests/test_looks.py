"""Looks: presets, versions, previews before approval, team looks."""

from __future__ import annotations

import pytest

from core.errors import ServiceError
from generation.looks import PRESETS
from generation.models import GenerationJob, LookVersion
from generation.services.looks import (
    look_version_approve,
    look_version_create,
    look_version_for_member,
)

from .helpers import approved_look, db_fingerprint

VS = LookVersion.Status


def test_a_preset_fills_the_look(tenant_a):
    version = look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                                  preset="executive")
    assert version.version == 1 and version.status == VS.DRAFT
    assert version.backdrop_color == "#1E2A38" and version.framing == "chest_up"
    assert "Rembrandt" in version.prompt and "navy" in version.prompt


def test_custom_values_are_validated(tenant_a):
    with pytest.raises(ServiceError, match="#5B6770"):
        look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                            backdrop_color="grey", wardrobe="suit", lighting="soft",
                            framing="chest_up", aspect_ratio="1:1")
    with pytest.raises(ServiceError, match="aspect"):
        look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                            backdrop_color="#112233", wardrobe="suit", lighting="soft",
                            framing="chest_up", aspect_ratio="16:9")


def test_approval_needs_a_finished_preview(tenant_a):
    version = look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                                  preset="minimal")
    with pytest.raises(ServiceError, match="preview"):
        look_version_approve(company=tenant_a.company, actor=tenant_a.admin, version=version)
    GenerationJob.objects.create(
        company=tenant_a.company, membership=tenant_a.admin, kind="preview",
        look_version=version, backend="offline", status="ready")
    look_version_approve(company=tenant_a.company, actor=tenant_a.admin, version=version)
    assert version.status == VS.APPROVED and version.approved_by == tenant_a.admin.user


def test_an_edit_is_a_new_version_and_the_old_approval_stays_until_reapproved(tenant_a):
    first = approved_look(tenant_a.company, preset="corporate")
    edited = look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                                 preset="corporate", backdrop_color="#203040")
    assert edited.version == 2 and edited.status == VS.DRAFT
    assert look_version_for_member(company=tenant_a.company, membership=tenant_a.member) == first
    look_version_approve(company=tenant_a.company, actor=tenant_a.admin, version=edited,
                         require_preview=False)
    first.refresh_from_db()
    assert first.status == VS.SUPERSEDED
    assert look_version_for_member(company=tenant_a.company, membership=tenant_a.member) == edited


def test_a_team_look_wins_over_the_company_look(tenant_a):
    company_look = approved_look(tenant_a.company, preset="corporate")
    team_look = approved_look(tenant_a.company, preset="creative", team=tenant_a.team)
    assert look_version_for_member(company=tenant_a.company, membership=tenant_a.member) == team_look
    tenant_a.member.team = None
    assert look_version_for_member(company=tenant_a.company,
                                   membership=tenant_a.member) == company_look


def test_members_cannot_change_looks(tenant_a):
    with pytest.raises(ServiceError):
        look_version_create(company=tenant_a.company, actor=tenant_a.member, team=None,
                            preset="corporate")


def test_admin_pages_create_preview_and_approve(tenant_a, settings):
    settings.REPLICATE_API_TOKEN = ""
    admin = tenant_a.client_for(tenant_a.admin)
    response = admin.post("/c/alpha/admin/looks/", {"preset": "friendly", "output_size": "768"})
    assert response.status_code == 302
    version = LookVersion.objects.for_company(tenant_a.company).get()
    page = admin.get(f"/c/alpha/admin/looks/{version.pk}/")
    # Approval is offered once a preview has been seen.
    assert b"Approve this version" not in page.content
    assert b"once you have seen a preview" in page.content
    before = db_fingerprint()
    refused = admin.post(f"/c/alpha/admin/looks/{version.pk}/", {"action": "approve"}, follow=True)
    assert b"Generate a preview" in refused.content
    assert db_fingerprint() == before


def test_the_look_form_keeps_the_presets_backdrop_unless_a_colour_is_typed(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    # Browsers send the field empty when nobody typed a colour.
    response = admin.post("/c/alpha/admin/looks/", {"preset": "friendly", "output_size": "768",
                                                    "backdrop_color": ""})
    assert response.status_code == 302
    version = LookVersion.objects.for_company(tenant_a.company).get()
    assert version.backdrop_color == PRESETS["friendly"].backdrop_color.upper()
    admin.post("/c/alpha/admin/looks/", {"preset": "friendly", "output_size": "768",
                                         "backdrop_color": "#123abc"})
    assert LookVersion.objects.for_company(tenant_a.company).order_by("-pk").first(
    ).backdrop_color == "#123ABC"
    before = db_fingerprint()
    bad = admin.post("/c/alpha/admin/looks/", {"preset": "friendly", "output_size": "768",
                                               "backdrop_color": "black"})
    assert bad.status_code == 400 and "#F1EFEA" in bad.content.decode()
    assert db_fingerprint() == before


def test_a_look_preview_is_never_offered_as_a_headshot(tenant_a):
    from core.errors import ServiceError
    from generation.models import Candidate, GenerationJob
    from generation.selectors import review_rows
    from generation.services.review import headshot_approve
    from teams.models import Membership

    from .helpers import candidate_for

    real = candidate_for(tenant_a.member)
    preview = candidate_for(tenant_a.member, seed=9)
    GenerationJob.objects.for_company(tenant_a.company).filter(pk=preview.job_id).update(
        kind=GenerationJob.Kind.PREVIEW)
    Candidate.objects.for_company(tenant_a.company).filter(pk=preview.pk).update(
        is_favourite=True)
    Membership.objects.for_company(tenant_a.company).filter(pk=tenant_a.member.pk).update(
        status=Membership.Status.REVIEW)
    (row,) = review_rows(company=tenant_a.company, team_id=None)
    assert row["pick"].pk == real.pk and row["choices"] == 1
    preview.refresh_from_db()
    with pytest.raises(ServiceError, match="look preview"):
        headshot_approve(company=tenant_a.company, actor=tenant_a.admin, candidate=preview)


def test_a_version_carries_its_own_conformance_tolerances(tenant_a):
    from generation.conformance import tolerances_for
    from generation.looks import look_spec

    version = look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                                  preset="minimal", tolerances={"backdrop_delta_e_max": 2.5})
    tolerances = tolerances_for(look_spec(version), version.tolerances)
    assert tolerances.backdrop_delta_e_max == 2.5
    assert tolerances.roll_degrees_max == 5.0  # the default stays
    with pytest.raises(ServiceError, match="Unknown tolerance"):
        look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                            preset="minimal", tolerances={"sharpness": 1.0})
