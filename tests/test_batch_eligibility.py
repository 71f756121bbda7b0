"""Who a consistent batch takes: one selector for the batches page and the order itself."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.eligibility import (
    APPROVED_IN_CURRENT_LOOK,
    batch_eligibility,
    batch_eligibility_summary,
)
from generation.models import GenerationJob, LookVersion
from teams.models import Membership

from .factories import (
    GenerationJobFactory,
)
from .helpers import approved_look, db_fingerprint, headshot_approved_in, person_at

pytestmark = pytest.mark.django_db
Status = Membership.Status


@pytest.fixture
def team(tenant_a):
    """People at every step: who a batch should take and who it should not."""
    old = approved_look(tenant_a.company)
    current = approved_look(tenant_a.company)  # a new version: the first is superseded
    old.refresh_from_db()
    assert old.status == LookVersion.Status.SUPERSEDED
    people = {
        "uploaded": person_at(tenant_a, "Uma Uploaded", status=Status.UPLOADED),
        "review": person_at(tenant_a, "Rita Review", status=Status.REVIEW),
        "old_look": person_at(tenant_a, "Olga Oldlook", status=Status.APPROVED),
        "current": person_at(tenant_a, "Carl Current", status=Status.APPROVED),
        "few": person_at(tenant_a, "Fay Few", status=Status.UPLOADED, selfies=2),
        "no_consent": person_at(tenant_a, "Nora Noconsent", status=Status.JOINED, selfies=0,
                              consent=False),
    }
    headshot_approved_in(people["old_look"], old)
    headshot_approved_in(people["current"], current)
    return people


def _names(members) -> set[str]:
    return {m.user.full_name for m in members}


def test_a_batch_takes_everyone_ready_whatever_their_step(tenant_a, team):
    result = batch_eligibility(company=tenant_a.company, team_id=tenant_a.team.pk)
    assert _names(result.included) == {"Uma Uploaded", "Rita Review", "Olga Oldlook"}
    why = {m.user.full_name: reason for m, reason in result.excluded}
    assert why["Carl Current"] == APPROVED_IN_CURRENT_LOOK
    assert why["Fay Few"] == "2 of 4 usable selfies"
    assert why["Nora Noconsent"] == "has not given consent"
    assert result.quote.jobs == 3


def test_everyone_includes_people_approved_in_the_current_look(tenant_a, team):
    result = batch_eligibility(company=tenant_a.company, team_id=tenant_a.team.pk,
                               everyone=True)
    assert _names(result.included) == {"Uma Uploaded", "Rita Review", "Olga Oldlook",
                                       "Carl Current"}


def test_someone_with_headshots_being_made_is_left_out_and_told_why(tenant_a, team):
    GenerationJobFactory(membership=team["review"], company=tenant_a.company,
                         status=GenerationJob.Status.RUNNING,
                         look_version=LookVersion.objects.for_company(tenant_a.company).get(
                             status="approved"))
    result = batch_eligibility(company=tenant_a.company, team_id=tenant_a.team.pk)
    assert dict((m.user.full_name, r) for m, r in result.excluded)["Rita Review"] == (
        "headshots are being made right now")


def test_the_batches_page_lists_who_is_in_who_is_not_and_the_cost(tenant_a, team):
    admin = tenant_a.client_for(tenant_a.admin)
    url = reverse("generation:batches", kwargs={"company_slug": tenant_a.company.slug})
    page = admin.get(url, {"team": tenant_a.team.pk}).content.decode()
    included = page.split("data-included>")[1].split("</ul>")[0]
    excluded = page.split("data-excluded>")[1].split("</ul>")[0]
    for name in ("Uma Uploaded", "Rita Review", "Olga Oldlook"):
        assert name in included
    assert f"Carl Current: {APPROVED_IN_CURRENT_LOOK}" in excluded
    assert "Fay Few: 2 of 4 usable selfies" in excluded
    assert "3 credits" in page
    everyone = admin.get(url, {"team": tenant_a.team.pk, "everyone": "1"}).content.decode()
    assert "Carl Current" in everyone.split("data-included>")[1].split("</ul>")[0]


def test_ordering_the_batch_starts_exactly_the_people_the_page_listed(tenant_a, team):
    admin = tenant_a.client_for(tenant_a.admin)
    url = reverse("generation:generate_for_team", kwargs={"company_slug": tenant_a.company.slug})
    response = admin.post(url, {"team": tenant_a.team.pk, "kind": "consistent_batch"},
                          follow=True)
    assert "Started headshots for 3 people." in response.content.decode()
    started = GenerationJob.objects.for_company(tenant_a.company).filter(
        kind=GenerationJob.Kind.CONSISTENT_BATCH)
    assert _names(j.membership for j in started) == {"Uma Uploaded", "Rita Review",
                                                     "Olga Oldlook"}
    admin.post(url, {"team": tenant_a.team.pk, "kind": "consistent_batch", "everyone": "1"})
    assert started.filter(membership=team["current"]).exists()


@pytest.mark.parametrize("everyone", [False, True])
@pytest.mark.parametrize("whole_company", [False, True])
def test_the_pages_summary_counts_and_names_exactly_what_the_order_takes(tenant_a, team,
                                                                         everyone,
                                                                         whole_company):
    team_id = None if whole_company else tenant_a.team.pk
    full = batch_eligibility(company=tenant_a.company, team_id=team_id, everyone=everyone)
    summary = batch_eligibility_summary(company=tenant_a.company, team_id=team_id,
                                        everyone=everyone, listed=2)
    assert summary.ready == len(full.included)
    assert summary.left_out == len(full.excluded)
    assert summary.approved_current == full.approved_current
    assert summary.quote.jobs == full.quote.jobs
    assert summary.included == [m.user.full_name for m in full.included][:2]
    assert summary.excluded.items == [(m.user.full_name, why) for m, why in full.excluded][:2]


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_only_the_companys_admins_order_a_batch(tenant_a, tenant_b, team, who):
    client = (tenant_a.client_for(tenant_a.member) if who == "member"
              else tenant_b.client_for(tenant_b.owner))
    before = db_fingerprint()
    for slug in {tenant_a.company.slug, tenant_b.company.slug}:
        if who == "member" and slug != tenant_a.company.slug:
            continue
        response = client.post(
            reverse("generation:generate_for_team", kwargs={"company_slug": slug}),
            {"team": tenant_a.team.pk, "kind": "consistent_batch"})
        assert response.status_code in (403, 404)
    assert db_fingerprint() == before


@pytest.fixture
def mixed(tenant_a, team):
    """Everyone in ``team`` plus, interleaved by name, ready people and people left out for
    every reason, in a second team with its own look: the page reads them in one sorted
    pass and must count and name exactly whom the order takes."""
    from privacy.services import RequestInfo, consent_withdraw

    from .factories import TeamFactory
    from .helpers import consent_for

    company = tenant_a.company
    own = TeamFactory(company=company, name="Own look")
    own_v1 = approved_look(company, team=own)
    own_current = approved_look(company, team=own)
    company_current = LookVersion.objects.for_company(company).get(
        look__team__isnull=True, status=LookVersion.Status.APPROVED)

    def at(name, status=Status.UPLOADED, *, in_own=False, **kwargs):
        member = person_at(tenant_a, name, status=status, **kwargs)
        if in_own:
            Membership.objects.for_company(company).filter(pk=member.pk).update(team=own)
            member.refresh_from_db()
        return member

    for i in range(4):  # ready, spread between the others by name
        at(f"A{i} Ready")
        at(f"C{i} Ready", status=Status.REVIEW, in_own=True)
    at("B Invited", status=Status.INVITED)
    at("B Left", status=Status.LEFT)
    GenerationJobFactory(membership=at("B Busy"), company=company,
                         status=GenerationJob.Status.QUEUED, look_version=company_current)
    GenerationJobFactory(membership=at("B Previewing"), company=company,
                         kind=GenerationJob.Kind.PREVIEW, status=GenerationJob.Status.RUNNING,
                         look_version=company_current)  # a preview does not count
    info = RequestInfo(ip_address="127.0.0.1", user_agent="pytest")
    consent_withdraw(company=company, membership=at("B Withdrawn", status=Status.WITHDRAWN),
                     request_info=info)
    again = at("B Regranted")
    consent_withdraw(company=company, membership=again, request_info=info)
    consent_for(again)  # the latest record is what counts
    consent_withdraw(company=company, membership=at("B Consented then withdrew"),
                     request_info=info)  # status still uploaded
    # In the team with its own look, the company's look or an old team version is not
    # current for them; the team's current version is.
    headshot_approved_in(at("D Company look", Status.APPROVED, in_own=True), company_current)
    headshot_approved_in(at("D Old team look", Status.APPROVED, in_own=True), own_v1)
    headshot_approved_in(at("D Current team look", Status.APPROVED, in_own=True), own_current)
    return own


@pytest.mark.parametrize("everyone", [False, True])
@pytest.mark.parametrize("listed", [1, 3, 50])
@pytest.mark.parametrize("which", ["company", "team", "own"])
def test_the_summary_matches_the_order_over_a_mixed_company(tenant_a, mixed, everyone, listed,
                                                            which):
    team_id = {"company": None, "team": tenant_a.team.pk, "own": mixed.pk}[which]
    full = batch_eligibility(company=tenant_a.company, team_id=team_id, everyone=everyone)
    summary = batch_eligibility_summary(company=tenant_a.company, team_id=team_id,
                                        everyone=everyone, listed=listed)
    assert summary.ready == len(full.included)
    assert summary.left_out == len(full.excluded)
    assert summary.approved_current == full.approved_current
    assert summary.quote.jobs == full.quote.jobs
    assert summary.included == [m.user.full_name for m in full.included][:listed]
    assert summary.excluded.items == [(m.user.full_name, why)
                                      for m, why in full.excluded][:listed]
    if which == "company":  # the fixture covers what it claims to
        reasons = {why for _, why in full.excluded}
        assert {"has withdrawn consent", "headshots are being made right now",
                "has not accepted the invitation yet"} <= reasons
        assert (APPROVED_IN_CURRENT_LOOK in reasons) is not everyone
        names = _names(full.included)
        assert {"B Previewing", "B Regranted", "D Company look", "D Old team look"} <= names
        assert not {"B Consented then withdrew", "B Left"} & names
        assert ("D Current team look" in names) is everyone
