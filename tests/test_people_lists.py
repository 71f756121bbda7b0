"""The people lists at company scale: the counts and the sort key the database keeps, the
dashboard's keyset pages, and the API's cursors.

The counts (MemberTally) and the sort key (Membership.sort_name) are written by triggers, so
these stories change memberships every way the code does (factories, bulk_create, queryset
updates, cascades) and compare with what an aggregate of the table says.
"""

from __future__ import annotations

import re
from base64 import urlsafe_b64encode
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from delivery.api.keys import api_key_create
from teams.models import Company, Membership, MemberTally, Team, User

from .factories import CompanyFactory, MembershipFactory, TeamFactory, UserFactory
from .helpers import db_fingerprint

Status = Membership.Status


def _tallies(company: Company) -> dict[tuple[int, str], int]:
    rows = MemberTally.objects.for_company(company).filter(n__gt=0)
    return {(t.team_key, t.status): t.n for t in rows}


def _counted(company: Company) -> dict[tuple[int, str], int]:
    rows = (Membership.objects.for_company(company).values("team_id", "status")
            .annotate(n=Count("id")).order_by())
    return {(r["team_id"] or 0, r["status"]): r["n"] for r in rows}


def test_tallies_follow_every_way_memberships_change(tenant_a, tenant_b):
    company = tenant_a.company
    design = TeamFactory(company=company, name="Design")
    assert _tallies(company) == _counted(company) == {(tenant_a.team.pk, Status.JOINED): 3}

    dora = MembershipFactory(company=company, team=design, status=Status.CONSENTED)
    users = User.objects.bulk_create([User(email=f"bulk{i}@alpha.example") for i in range(5)])
    Membership.objects.bulk_create([Membership(company=company, user=u, team=design)
                                    for u in users])
    assert _tallies(company) == _counted(company)

    # Queryset updates (as the services make them), a team change, a team deleted (its people
    # lose their team by SET NULL), a membership and a user deleted (a cascade).
    Membership.objects.for_company(company).filter(team=design).update(status=Status.JOINED)
    Membership.objects.for_company(company).filter(pk=tenant_a.member.pk).update(team=design)
    dora.status = Status.UPLOADED
    dora.save()
    design.delete()
    assert _tallies(company) == _counted(company)
    assert _tallies(company)[(0, Status.JOINED)] == 6
    Membership.objects.for_company(company).filter(pk=tenant_a.admin.pk).delete()
    users[0].delete()
    assert _tallies(company) == _counted(company)
    assert sum(_tallies(company).values()) == Membership.objects.for_company(company).count()

    # Another company's people are counted apart and are untouched by all this.
    assert _tallies(tenant_b.company) == {(tenant_b.team.pk, Status.JOINED): 3}
    company_id = company.pk
    company.delete()
    assert not MemberTally.objects.unscoped().filter(company_id=company_id).exists()
    assert _tallies(tenant_b.company) == _counted(tenant_b.company)


def test_the_sort_key_follows_the_person_name_and_email(tenant_a):
    member = tenant_a.member
    user = member.user
    User.objects.filter(pk=user.pk).update(full_name="")
    member.refresh_from_db()
    assert member.sort_name == "member@alpha.example"  # no name: the e-mail
    user.full_name = "Zoë Zimmer"
    user.save()
    member.refresh_from_db()
    assert member.sort_name.startswith("zo")
    stale = Membership.objects.for_company(tenant_a.company).get(pk=member.pk)
    user.full_name = "Anna Able"
    user.save(update_fields=["full_name"])
    stale.job_title = "Engineer"
    stale.save()  # sends the old sort key: the database keeps the right one
    stale.refresh_from_db()
    assert stale.sort_name == "anna able" and stale.job_title == "Engineer"
    joined = MembershipFactory(company=CompanyFactory(), user=user)
    joined.refresh_from_db()
    assert joined.sort_name == "anna able"


# --- The dashboard's pages ---------------------------------------------------------------


@pytest.fixture
def crowd(tenant_a, settings):
    """23 more people in Alpha (26 in all), in two teams, five people a page."""
    settings.ADMIN_LIST_PAGE_SIZE = 5
    other = TeamFactory(company=tenant_a.company, name="Sales")
    for i in range(23):
        MembershipFactory(company=tenant_a.company, team=other if i % 2 else tenant_a.team,
                          status=Status.CONSENTED if i % 3 else Status.JOINED,
                          user=UserFactory(email=f"p{i:02d}@alpha.example",
                                           full_name=f"Person {25 - i:02d}"))
    return tenant_a


def _names(html: str) -> list[str]:
    return re.findall(r'data-label="E-mail">([^<]+)<', html)


def _link(html: str, label: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]*)">{label}</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _walk(client, url: str, label: str) -> list[list[str]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        pages.append(_names(html))
        following = _link(html, label)
        url = f"/c/alpha/admin/{following}" if following else None
    return pages


def _expected(tenant, **filters) -> list[str]:
    return list(Membership.objects.for_company(tenant.company).filter(**filters)
                .order_by("sort_name", "pk").values_list("user__email", flat=True))


def test_the_dashboard_pages_forward_and_back_through_everyone_in_name_order(crowd):
    client = crowd.client_for(crowd.admin)
    forward = _walk(client, "/c/alpha/admin/", "Next")
    assert [len(p) for p in forward] == [5, 5, 5, 5, 5, 1]
    assert sum(forward, []) == _expected(crowd)
    backward = _walk(client, "/c/alpha/admin/?page=last", "Previous")
    assert backward[0] == sum(forward, [])[-5:]
    assert sum(reversed(backward), []) == _expected(crowd)
    last = client.get("/c/alpha/admin/?page=last").content.decode()
    assert _link(last, "Next") is None and _link(last, "First") == "?"


def test_filters_are_kept_from_page_to_page(crowd):
    client = crowd.client_for(crowd.admin)
    sales = Team.objects.for_company(crowd.company).get(name="Sales")
    pages = _walk(client, f"/c/alpha/admin/?team={sales.pk}&status=consented", "Next")
    assert sum(pages, []) == _expected(crowd, team=sales, status=Status.CONSENTED)
    html = client.get(f"/c/alpha/admin/?team={sales.pk}").content.decode()
    counted = Membership.objects.for_company(crowd.company).filter(team=sales).count()
    assert f"{counted} people, 5 on this page" in html
    assert re.search(rf'<option value="{sales.pk}" selected>Sales \({counted}\)</option>', html)


@pytest.mark.parametrize("query", [
    "after=abc", "before=-3", "after=1e3", "page=2", "page=%01", "after=99999999999999999999",
    "after=0", "before=１２", "after=" + "9" * 400,
])
def test_a_garbled_page_link_is_a_clear_400_that_changes_nothing(crowd, query):
    client = crowd.client_for(crowd.admin)
    before = db_fingerprint()
    response = client.get(f"/c/alpha/admin/?{query}")
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()
    assert db_fingerprint() == before


def test_a_nul_in_a_page_link_is_refused_before_it_reaches_the_list(crowd):
    # RefuseNulBytesMiddleware answers first, with its own clear message.
    client = crowd.client_for(crowd.admin)
    before = db_fingerprint()
    response = client.get("/c/alpha/admin/?page=%00")
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert db_fingerprint() == before


def test_a_link_to_someone_gone_or_in_another_company_starts_over(crowd, tenant_b):
    client = crowd.client_for(crowd.admin)
    first = _names(client.get("/c/alpha/admin/").content.decode())
    for anchor in (tenant_b.member.pk, 10**12):
        assert _names(client.get(f"/c/alpha/admin/?after={anchor}").content.decode()) == first


def test_page_links_are_for_admins_of_the_company_only(crowd, tenant_b):
    assert crowd.client_for(crowd.member).get("/c/alpha/admin/?page=last").status_code == 403
    assert tenant_b.client_for(tenant_b.owner).get("/c/alpha/admin/?page=last").status_code == 404


# --- The API's cursors ---------------------------------------------------------------------


def _api(tenant):
    from django.test import Client

    _, raw = api_key_create(company=tenant.company, actor=tenant.owner, name="t", scope="read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _b64(text: str) -> str:
    return urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/people/", "/api/v1/jobs/", "/api/v1/headshots/"])
@pytest.mark.parametrize("cursor", [
    "x", "!!!!", _b64("2026-01-01T00:00:00+00:00|12"), _b64("yesterday|1|0"),
    _b64("2026-13-45T00:00:00+00:00|1|0"), _b64("2026-01-01T00:00:00|1|0"),
    _b64("2026-01-01T00:00:00+00:00|" + "9" * 30 + "|0"), _b64("2026-01-01T00:00:00+00:00|-1|0"),
    _b64("2026-01-01T00:00:00+00:00|1|2"), _b64("9999-12-31T23:59:59-23:59|1|0"),
    _b64("0001-01-01T00:00:00+23:59|1|0"), "A" * 5000, _b64("é|1|0"),
])
def test_a_garbled_api_cursor_is_a_400(tenant_a, path, cursor):
    response = _api(tenant_a).get(path, {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert "Not a valid cursor" in response.json()["cursor"]


def test_a_tampered_cursor_changed_by_one_character_never_fails(tenant_a, monkeypatch):
    from delivery.api.base import PerKeyThrottle

    monkeypatch.setattr(PerKeyThrottle, "allow_request", lambda self, request, view: True)
    client = _api(tenant_a)
    for n in range(5):
        MembershipFactory(company=tenant_a.company, user=UserFactory(email=f"q{n}@alpha.example"))
    cursor = client.get("/api/v1/people/?page_size=2").json()["next"].split("cursor=")[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
    for position in range(len(cursor)):
        for char in alphabet[::13]:
            tampered = cursor[:position] + char + cursor[position + 1:]
            response = client.get("/api/v1/people/", {"cursor": tampered, "page_size": 2})
            assert response.status_code in (200, 400), (tampered, response.status_code)


def test_more_rows_changed_at_one_instant_than_a_page_all_come_through(tenant_a):
    """DRF's cursor skipped rows with the same time by OFFSET (capped at 1,000); a keyset on
    (time, id) pages through any number of them."""
    from generation.models import Headshot

    from .helpers import candidate_for

    same = timezone.now() - timedelta(days=1)
    ids = []
    for n in range(7):
        person = MembershipFactory(company=tenant_a.company,
                                   user=UserFactory(email=f"h{n}@alpha.example"))
        ids.append(Headshot.objects.create(company=tenant_a.company, membership=person,
                                           candidate=candidate_for(person), approved_at=same).pk)
    client = _api(tenant_a)
    seen, url, page = [], "/api/v1/headshots/?page_size=2", None
    while url:
        page = client.get(url).json()
        seen += [h["id"] for h in page["results"]]
        url = page["next"]
    assert seen == sorted(ids)
    # And back from the last page through the previous links.
    back, url = [], page["previous"]
    while url:
        page = client.get(url).json()
        back = [h["id"] for h in page["results"]] + back
        url = page["previous"]
    assert back + [seen[-1]] == seen
