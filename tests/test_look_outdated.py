"""A new look version approved: headshots from the older one are marked on the dashboard,
and one confirmed action (cost shown first) regenerates those people."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import GenerationJob
from teams.models import Membership

from .helpers import approved_look, db_fingerprint, headshot_approved_in, person_at

pytestmark = pytest.mark.django_db


def _approved(tenant, name: str, version, *, selfies: int = 1):
    member = person_at(tenant, name, status=Membership.Status.APPROVED, selfies=selfies)
    headshot_approved_in(member, version)
    return member


@pytest.fixture
def looks(tenant_a):
    old = approved_look(tenant_a.company)
    people = {"old": _approved(tenant_a, "Olga Old", old),
              "gone": _approved(tenant_a, "Gus Noselfies", old, selfies=0)}
    new = approved_look(tenant_a.company)
    people["new"] = _approved(tenant_a, "Nina New", new)
    return old, new, people


def _url(tenant, name="outdated_headshots") -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": tenant.company.slug})


def test_the_dashboard_marks_headshots_from_an_older_look(tenant_a, looks):
    admin = tenant_a.client_for(tenant_a.admin)
    page = admin.get(reverse("teams:dashboard", kwargs={"company_slug": tenant_a.company.slug}))
    notice = page.content.decode().split("data-outdated-notice>")[1].split("</div>")[0]
    assert "2 approved headshots were made in an older version of the look" in notice
    assert "Olga Old" in notice and "Gus Noselfies" in notice and "Nina New" not in notice
    assert _url(tenant_a) in notice


def test_the_regenerate_page_shows_who_why_and_the_cost_first(tenant_a, looks):
    old, new, _ = looks
    page = tenant_a.client_for(tenant_a.admin).get(_url(tenant_a)).content.decode()
    ready = page.split("data-outdated-ready>")[1].split("</ul>")[0]
    blocked = page.split("data-outdated-blocked>")[1].split("</ul>")[0]
    assert (f"Olga Old: approved in version {old.version}, the look is now version "
            f"{new.version}") in ready
    assert "Gus Noselfies" in blocked and "0 of 1 usable selfies" in blocked
    assert "Nina New" not in page
    assert "1 credit" in page.split("data-cost>")[1]


def test_confirming_regenerates_exactly_the_people_shown(tenant_a, looks):
    _, new, people = looks
    admin = tenant_a.client_for(tenant_a.admin)
    response = admin.post(_url(tenant_a), {"count": "1"}, follow=True)
    assert "Started new photos in the current look for 1 person." in response.content.decode()
    job = GenerationJob.objects.for_company(tenant_a.company).exclude(
        status=GenerationJob.Status.READY).get()
    assert (job.membership_id, job.look_version_id) == (people["old"].pk, new.pk)
    # Their approved headshot stays until a new one is approved.
    assert people["old"].headshot.candidate.job.look_version_id != new.pk


def test_a_confirmation_for_another_list_starts_nothing(tenant_a, looks):
    admin = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = admin.post(_url(tenant_a), {"count": "5"}, follow=True)
    assert "The list changed" in response.content.decode()
    assert db_fingerprint() == before


@pytest.mark.parametrize("who", ["owner", "member", "outsider"])
def test_only_the_companys_admins_regenerate(tenant_a, tenant_b, looks, who):
    client = {"owner": tenant_a.client_for(tenant_a.owner),
              "member": tenant_a.client_for(tenant_a.member),
              "outsider": tenant_b.client_for(tenant_b.owner)}[who]
    before = db_fingerprint()
    get = client.get(_url(tenant_a))
    response = client.post(_url(tenant_a), {"count": "1"})
    if who == "owner":
        assert get.status_code == 200 and response.status_code == 302
        assert GenerationJob.objects.for_company(tenant_a.company).filter(
            status=GenerationJob.Status.QUEUED).count() == 1
        return
    assert get.status_code == response.status_code == (403 if who == "member" else 404)
    assert db_fingerprint() == before
    if who == "outsider":  # their own company's page: nothing of alpha's is there
        page = client.get(_url(tenant_b)).content.decode()
        assert "Olga Old" not in page


def test_the_dashboards_count_follows_the_rule_with_a_team_look_too(tenant_a, looks):
    from generation.eligibility import headshots_outdated, outdated_names

    def both():
        count, names = outdated_names(company=tenant_a.company, limit=10)
        rows = headshots_outdated(company=tenant_a.company)
        assert count == len(rows)
        assert names == [r.member.user.full_name for r in rows]
        return set(names)

    assert both() == {"Olga Old", "Gus Noselfies"}
    # The team gets its own look: everyone in it made in the company's look is outdated.
    approved_look(tenant_a.company, team=tenant_a.team)
    assert both() == {"Olga Old", "Gus Noselfies", "Nina New"}
