"""The admin dashboard, the CSV export, the employee home page and the admin's settings pages."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from django.utils.html import escape

from teams.models import Company, Invitation, Membership, Team
from teams.services.companies import domains_parse
from teams.services.invitations import invitation_create

from .conftest import Tenant
from .factories import MembershipFactory, TeamFactory, UserFactory
from .helpers import db_fingerprint

Status = Membership.Status
Role = Membership.Role

DASHBOARD = "/c/alpha/admin/"
EXPORT = "/c/alpha/admin/people.csv"
ALPHA_EMAILS = {"owner@alpha.example", "admin@alpha.example", "member@alpha.example",
                "dora@alpha.example", "nina@alpha.example", "ivan@alpha.example"}


@dataclass
class People:
    tenant: Tenant
    design: Team
    dora: Membership  # Design, consented
    nina: Membership  # no team, approved
    ivan: Membership  # no team, invited (never joined)


@pytest.fixture
def people(tenant_a, tenant_b) -> People:
    company = tenant_a.company
    design = TeamFactory(company=company, name="Design")
    dora = MembershipFactory(
        company=company, team=design, status=Status.CONSENTED,
        user=UserFactory(email="dora@alpha.example", full_name="Dora Designer"),
    )
    nina = MembershipFactory(company=company, team=None, status=Status.APPROVED,
                             job_title="Office manager",
                             user=UserFactory(email="nina@alpha.example", full_name="Nina Noteam"))
    invitation = invitation_create(company=company, email="ivan@alpha.example",
                                   full_name="Ivan Invited", created_by=tenant_a.owner.user,
                                   send=False)
    # Bravo has a look-alike: same first name, same team name, same status.
    bravo_design = TeamFactory(company=tenant_b.company, name="Design")
    MembershipFactory(company=tenant_b.company, team=bravo_design, status=Status.CONSENTED,
                      user=UserFactory(email="dora@bravo.example", full_name="Dora Bravo"))
    return People(tenant=tenant_a, design=design, dora=dora, nina=nina,
                  ivan=invitation.membership)


def _emails(response) -> set[str]:
    assert response.status_code == 200
    return {row["email"] for row in response.context["rows"]}


def _export(client, query: str = "") -> list[list[str]]:
    response = client.get(EXPORT + query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-people-')
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- Dashboard -----------------------------------------------------------------------------------


def test_status_counts_at_a_glance(people):
    response = people.tenant.client_for(people.tenant.admin).get(DASHBOARD)
    assert response.status_code == 200
    counts = {value: n for value, _, n in response.context["counts"]}
    assert counts == {
        "invited": 1, "joined": 3, "consented": 1, "uploaded": 0, "generating": 0,
        "review": 0, "approved": 1, "withdrawn": 0, "left": 0,
    }
    assert response.context["total"] == 6
    html = response.content.decode()
    assert "<strong>6</strong>Everyone" in html
    assert "<strong>3</strong>Joined" in html
    assert "<strong>1</strong>Consented" in html
    assert "<strong>0</strong>Ready for review" in html


def test_counts_follow_the_team_filter(people):
    client = people.tenant.client_for(people.tenant.admin)
    response = client.get(DASHBOARD, {"team": people.design.pk})
    counts = {value: n for value, _, n in response.context["counts"]}
    assert counts["consented"] == 1 and response.context["total"] == 1
    response = client.get(DASHBOARD, {"team": people.tenant.team.pk})
    counts = {value: n for value, _, n in response.context["counts"]}
    assert counts["joined"] == 3 and response.context["total"] == 3


def test_counts_follow_the_no_team_filter(people):
    client = people.tenant.client_for(people.tenant.admin)
    response = client.get(DASHBOARD, {"team": "none"})
    counts = {value: n for value, _, n in response.context["counts"]}
    assert response.context["total"] == 2 == len(response.context["members"])
    assert counts["approved"] == 1 and counts["invited"] == 1 and counts["joined"] == 0
    # The status links keep the filter.
    assert 'href="?status=approved&team=none"' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALPHA_EMAILS),
        ({"team": "design"}, {"dora@alpha.example"}),
        ({"team": "engineering"},
         {"owner@alpha.example", "admin@alpha.example", "member@alpha.example"}),
        ({"team": "none"}, {"nina@alpha.example", "ivan@alpha.example"}),
        ({"status": "joined"},
         {"owner@alpha.example", "admin@alpha.example", "member@alpha.example"}),
        ({"status": "invited"}, {"ivan@alpha.example"}),
        ({"status": "review"}, set()),
        ({"status": "nonsense"}, ALPHA_EMAILS),
        ({"team": "none", "status": "approved"}, {"nina@alpha.example"}),
        ({"q": "dora"}, {"dora@alpha.example"}),
        ({"q": "NOTEAM"}, {"nina@alpha.example"}),
        ({"q": "ivan@alpha"}, {"ivan@alpha.example"}),
        ({"q": "bravo"}, set()),
        ({"q": "alpha.example", "status": "consented"}, {"dora@alpha.example"}),
    ],
)
def test_filters(people, query, expected):
    team_ids = {"design": people.design.pk, "engineering": people.tenant.team.pk}
    query = {k: team_ids.get(v, v) if k == "team" else v for k, v in query.items()}
    response = people.tenant.client_for(people.tenant.admin).get(DASHBOARD, query)
    assert _emails(response) == expected
    assert b"bravo.example" not in response.content
    assert b"Dora Bravo" not in response.content


def test_another_companys_team_id_shows_no_one(people, tenant_b):
    bravo_design = Team.objects.for_company(tenant_b.company).get(name="Design")
    client = people.tenant.client_for(people.tenant.owner)
    response = client.get(DASHBOARD, {"team": bravo_design.pk})
    assert _emails(response) == set()
    assert response.context["total"] == 0
    assert _export(client, f"?team={bravo_design.pk}")[1:] == []


def test_members_of_another_company_never_appear(people, tenant_b):
    response = people.tenant.client_for(people.tenant.owner).get(DASHBOARD)
    assert _emails(response) == ALPHA_EMAILS
    for membership in Membership.objects.for_company(tenant_b.company).select_related("user"):
        assert membership.user.email.encode() not in response.content
    # And Bravo's dashboard shows only Bravo.
    bravo = tenant_b.client_for(tenant_b.admin).get("/c/bravo/admin/")
    assert _emails(bravo) == {"owner@bravo.example", "admin@bravo.example",
                              "member@bravo.example", "dora@bravo.example"}


def test_dashboard_lists_the_pending_invitation_with_its_actions(people):
    response = people.tenant.client_for(people.tenant.admin).get(DASHBOARD, {"q": "ivan"})
    invitation = Invitation.objects.for_company(people.tenant.company).get(
        email="ivan@alpha.example"
    )
    html = response.content.decode()
    assert f"/c/alpha/admin/invitations/{invitation.pk}/revoke/" in html
    assert f"/c/alpha/admin/invitations/{invitation.pk}/remind/" in html
    assert "1 invitation(s) saved but not sent yet." in html


# --- CSV export ----------------------------------------------------------------------------------

HEADER = ["email", "name", "team", "job_title", "role", "status", "invited_at", "joined_at"]


def test_export_has_a_header_and_one_row_per_member(people):
    rows = _export(people.tenant.client_for(people.tenant.admin))
    assert rows[0] == HEADER
    assert len(rows) == 7
    by_email = {row[0]: row for row in rows[1:]}
    assert set(by_email) == ALPHA_EMAILS
    nina = by_email["nina@alpha.example"]
    assert nina[1:6] == ["Nina Noteam", "", "Office manager", "member", "approved"]
    assert nina[6] == people.nina.invited_at.isoformat()
    assert nina[7] == people.nina.joined_at.isoformat()
    assert by_email["dora@alpha.example"][2] == "Design"
    assert by_email["owner@alpha.example"][4] == "owner"
    assert by_email["ivan@alpha.example"][5] == "invited"
    assert by_email["ivan@alpha.example"][7] == ""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?team=none", {"nina@alpha.example", "ivan@alpha.example"}),
        ("?status=joined", {"owner@alpha.example", "admin@alpha.example", "member@alpha.example"}),
        ("?q=dora", {"dora@alpha.example"}),
        ("?q=nobody-by-this-name", set()),
    ],
)
def test_export_applies_the_filters(people, query, expected):
    rows = _export(people.tenant.client_for(people.tenant.admin), query)
    assert rows[0] == HEADER
    assert {row[0] for row in rows[1:]} == expected
    assert len(rows) == len(expected) + 1


def test_export_contains_no_other_companys_people(people, tenant_b):
    body = "\n".join(",".join(r) for r in _export(people.tenant.client_for(people.tenant.owner)))
    assert "bravo" not in body.lower()
    bravo_rows = _export_for(tenant_b)
    assert {row[0] for row in bravo_rows[1:]} == {
        "owner@bravo.example", "admin@bravo.example", "member@bravo.example",
        "dora@bravo.example",
    }


def _export_for(tenant: Tenant) -> list[list[str]]:
    response = tenant.client_for(tenant.admin).get(f"/c/{tenant.company.slug}/admin/people.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_neutralises_spreadsheet_formulas(tenant_a):
    """A name typed as =HYPERLINK(...) must not run as a formula when the export is opened."""
    MembershipFactory(company=tenant_a.company,
                      user=UserFactory(email="eve@alpha.example", full_name="=1+2"))
    rows = _export(tenant_a.client_for(tenant_a.admin), "?q=eve@")
    assert len(rows) == 2
    assert not rows[1][1].startswith(("=", "+", "-", "@"))
    assert rows[1][1] == "'=1+2"  # the text is kept, shown as typed


# --- Employee home -------------------------------------------------------------------------------

NEXT_STEPS = {
    Status.JOINED: "Read and sign the consent notice",
    Status.CONSENTED: "Upload 4 to 20 selfies",
    Status.UPLOADED: "Your selfies are in.",
    Status.GENERATING: "Your headshots are being made.",
    Status.REVIEW: "pick your favourite",
    Status.APPROVED: "download it in the size you need",
    Status.WITHDRAWN: "You withdrew your consent",
}


@pytest.mark.parametrize("status", list(NEXT_STEPS))
def test_employee_home_shows_the_next_step(tenant_a, status):
    member = tenant_a.member
    member.status = status
    member.save(update_fields=["status"])
    response = tenant_a.client_for(member).get("/c/alpha/")
    assert response.status_code == 200
    html = response.content.decode()
    assert escape(NEXT_STEPS[status]) in html
    for other, text in NEXT_STEPS.items():
        if other != status:
            assert escape(text) not in html, other
    label = Status(status).label
    assert f'<li class="current" aria-current="step">{escape(label)}</li>' in html
    assert html.count('aria-current="step"') == 1


# --- Company settings ----------------------------------------------------------------------------


def test_domains_parse():
    assert domains_parse("Acme.com, @acme.co.uk") == ["acme.com", "acme.co.uk"]
    assert domains_parse("acme.com;acme.com\nACME.COM  beta.example") == ["acme.com",
                                                                            "beta.example"]
    assert domains_parse("  ") == []


def test_settings_save_parses_domains(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/settings/", {
        "name": "Alpha Inc", "allowed_domains": "Acme.com, @acme.co.uk", "reminder_after_days": 5,
    })
    assert response.status_code == 302
    company = Company.objects.get(pk=tenant_a.company.pk)
    assert company.allowed_domains == ["acme.com", "acme.co.uk"]
    assert company.name == "Alpha Inc" and company.reminder_after_days == 5
    page = client.get("/c/alpha/admin/settings/")
    assert b"Settings saved." in page.content
    assert b'value="acme.com, acme.co.uk"' in page.content


def test_settings_with_a_bad_domain_show_an_error_and_change_nothing(tenant_a):
    tenant_a.company.allowed_domains = ["alpha.example"]
    tenant_a.company.save(update_fields=["allowed_domains"])
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post("/c/alpha/admin/settings/", {
        "name": "Renamed", "allowed_domains": "acme.com, not_a_domain!",
        "reminder_after_days": 9,
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "“not_a_domain!” is not a domain name" in html
    assert db_fingerprint() == before
    # The page around the form still shows the saved name, not the refused one.
    assert '<span class="company-name">Alpha</span>' in html


@pytest.mark.parametrize("days", [-1, 61])
def test_settings_reminder_days_out_of_range_are_refused(tenant_a, days):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post("/c/alpha/admin/settings/", {
        "name": "Alpha", "allowed_domains": "", "reminder_after_days": days,
    })
    assert response.status_code == 400
    assert db_fingerprint() == before


def test_settings_set_the_redo_limit_and_a_stricter_likeness_threshold(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/settings/", {
        "name": "Alpha", "allowed_domains": "", "reminder_after_days": 3, "redo_limit": 4,
        "likeness_threshold": "0.45",
    })
    assert response.status_code == 302
    company = Company.objects.get(pk=tenant_a.company.pk)
    assert (company.redo_limit, company.likeness_threshold) == (4, 0.45)


@pytest.mark.parametrize("threshold", ["0.9", "0.1", "lots"])
def test_a_likeness_threshold_that_would_let_lookalikes_through_is_refused(tenant_a, threshold):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post("/c/alpha/admin/settings/", {
        "name": "Alpha", "allowed_domains": "", "reminder_after_days": 3,
        "likeness_threshold": threshold,
    })
    assert response.status_code == 400
    assert db_fingerprint() == before


# --- Teams ---------------------------------------------------------------------------------------


def _team_names(company) -> set[str]:
    return set(Team.objects.for_company(company).values_list("name", flat=True))


def test_team_create(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/teams/", {"name": "  Design  "}, follow=True)
    assert response.redirect_chain[-1] == ("/c/alpha/admin/teams/", 302)
    assert _team_names(tenant_a.company) == {"Engineering", "Design"}
    assert "Team “Design” created.".encode() in response.content


def test_duplicate_team_name_is_refused(tenant_a, tenant_b):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post("/c/alpha/admin/teams/", {"name": "ENGINEERING"})
    assert response.status_code == 400
    assert "There is already a team called “ENGINEERING”.".encode() in response.content
    assert db_fingerprint() == before
    # Another company's team of the same name is no clash.
    bravo = tenant_b.client_for(tenant_b.admin).post("/c/bravo/admin/teams/", {"name": "Design"})
    assert bravo.status_code == 302
    assert client.post("/c/alpha/admin/teams/", {"name": "Design"}).status_code == 302


def test_team_rename(tenant_a):
    TeamFactory(company=tenant_a.company, name="Design")
    client = tenant_a.client_for(tenant_a.admin)
    url = f"/c/alpha/admin/teams/{tenant_a.team.pk}/"

    before = db_fingerprint()
    clash = client.post(url, {"action": "rename", "name": "design"})
    assert clash.status_code == 400
    assert "There is already a team called “design”.".encode() in clash.content
    assert db_fingerprint() == before

    response = client.post(url, {"action": "rename", "name": "Platform"})
    assert response.status_code == 302
    tenant_a.team.refresh_from_db()
    assert tenant_a.team.name == "Platform"
    # Changing only the case of its own name is fine.
    assert client.post(url, {"action": "rename", "name": "PLATFORM"}).status_code == 302


def test_team_delete_keeps_its_people_without_a_team(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(f"/c/alpha/admin/teams/{tenant_a.team.pk}/",
                           {"action": "delete", "confirm": "yes"})
    assert response.status_code == 302
    assert _team_names(tenant_a.company) == set()
    members = Membership.objects.for_company(tenant_a.company)
    assert members.count() == 3
    assert set(members.values_list("team", flat=True)) == {None}


# --- Member edit and removal ---------------------------------------------------------------------


def _detail(tenant, membership) -> str:
    return f"/c/{tenant.company.slug}/admin/people/{membership.pk}/"


def test_owner_can_make_a_member_admin(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    response = client.post(_detail(tenant_a, tenant_a.member),
                           {"team": "", "job_title": "Team lead", "role": "admin"})
    assert response.status_code == 302
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.role == Role.ADMIN
    assert tenant_a.member.job_title == "Team lead" and tenant_a.member.team is None
    # The new admin can open the dashboard.
    assert tenant_a.client_for(tenant_a.member).get(DASHBOARD).status_code == 200


def test_admin_cannot_make_a_member_admin(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(_detail(tenant_a, tenant_a.member),
                           {"team": tenant_a.team.pk, "job_title": "Sneaky", "role": "admin"})
    assert response.status_code == 400
    assert b"Only the owner can make or remove admins." in response.content
    assert db_fingerprint() == before
    assert tenant_a.client_for(tenant_a.member).get(DASHBOARD).status_code == 403


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_the_owners_record_can_be_edited_as_the_page_submits_it(tenant_a, actor):
    """The owner's page offers no role select (the owner changes only by transfer)."""
    client = tenant_a.client_for(getattr(tenant_a, actor))
    url = _detail(tenant_a, tenant_a.owner)
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="role"' not in page.content
    response = client.post(url, {"team": "", "job_title": "Founder"})
    assert response.status_code == 302
    tenant_a.owner.refresh_from_db()
    assert tenant_a.owner.job_title == "Founder" and tenant_a.owner.team is None
    assert tenant_a.owner.role == Role.OWNER
    # A forged role for the owner is ignored, not applied.
    client.post(url, {"team": "", "job_title": "Founder", "role": "member"})
    tenant_a.owner.refresh_from_db()
    assert tenant_a.owner.role == Role.OWNER


def test_an_admins_page_keeps_the_role_selected(tenant_a):
    page = tenant_a.client_for(tenant_a.owner).get(_detail(tenant_a, tenant_a.admin))
    assert b'<option value="admin" selected>Admin</option>' in page.content


def test_admin_can_edit_team_and_job_title(tenant_a):
    design = TeamFactory(company=tenant_a.company, name="Design")
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(_detail(tenant_a, tenant_a.member),
                           {"team": design.pk, "job_title": "Illustrator", "role": "member"})
    assert response.status_code == 302
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.team == design and tenant_a.member.job_title == "Illustrator"
    assert tenant_a.member.role == Role.MEMBER


def test_a_team_of_another_company_cannot_be_assigned(tenant_a, tenant_b):
    client = tenant_a.client_for(tenant_a.owner)
    before = db_fingerprint()
    response = client.post(
        _detail(tenant_a, tenant_a.member), {"team": tenant_b.team.pk, "job_title": "x"}
    )
    assert response.status_code == 400
    assert db_fingerprint() == before


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_the_owner_cannot_be_removed(tenant_a, actor):
    client = tenant_a.client_for(getattr(tenant_a, actor))
    before = db_fingerprint()
    response = client.post(_detail(tenant_a, tenant_a.owner) + "remove/", {"confirm": "yes"},
                           follow=True)
    assert response.redirect_chain[-1][0] == _detail(tenant_a, tenant_a.owner)
    assert b"The owner cannot be removed; transfer ownership first." in response.content
    assert db_fingerprint() == before


def test_an_admin_cannot_remove_another_admin(tenant_a):
    other = MembershipFactory(company=tenant_a.company, role=Role.ADMIN)
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(_detail(tenant_a, other) + "remove/", {"confirm": "yes"}, follow=True)
    assert b"Only the owner can remove an admin." in response.content
    assert db_fingerprint() == before


def test_removing_a_member(tenant_a):
    pending = invitation_create(company=tenant_a.company, email="gone@alpha.example",
                                created_by=tenant_a.owner.user, send=False)
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(_detail(tenant_a, tenant_a.member) + "remove/", {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert not Membership.objects.for_company(tenant_a.company).filter(
        pk=tenant_a.member.pk).exists()
    # A leaver who belongs nowhere else has no account left: signed out, sent to sign in.
    response = tenant_a.client_for(tenant_a.member).get("/c/alpha/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")

    # Removing someone who never joined takes their invitation (and its e-mail) with them.
    response = client.post(_detail(tenant_a, pending.membership) + "remove/", {"confirm": "yes"})
    assert response.status_code == 302
    assert not Invitation.objects.for_company(tenant_a.company).filter(pk=pending.pk).exists()


# --- Ownership transfer --------------------------------------------------------------------------

TRANSFER = "/c/alpha/admin/settings/transfer/"


def _owners(company) -> list[int]:
    return list(
        Membership.objects.for_company(company).filter(role=Role.OWNER).values_list("pk", flat=True)
    )


def test_ownership_transfer_swaps_roles(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    response = client.post(TRANSFER, {"new_owner": tenant_a.member.pk})
    assert response.status_code == 302
    tenant_a.owner.refresh_from_db()
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.role == Role.OWNER
    assert tenant_a.owner.role == Role.ADMIN
    assert _owners(tenant_a.company) == [tenant_a.member.pk]
    # The former owner is an admin now: the dashboard yes, the transfer page no.
    assert client.get(DASHBOARD).status_code == 200
    assert client.get(TRANSFER).status_code == 403
    assert tenant_a.client_for(tenant_a.member).get(TRANSFER).status_code == 200


@pytest.mark.parametrize("actor", ["admin", "member"])
def test_non_owner_cannot_transfer(tenant_a, actor):
    client = tenant_a.client_for(getattr(tenant_a, actor))
    before = db_fingerprint()
    response = client.post(TRANSFER, {"new_owner": getattr(tenant_a, actor).pk})
    assert response.status_code == 403
    assert db_fingerprint() == before
    assert _owners(tenant_a.company) == [tenant_a.owner.pk]


def test_the_new_owner_is_found_by_a_search_not_picked_from_every_member(tenant_a, tenant_b):
    from teams.forms import TRANSFER_MATCHES

    for n in range(TRANSFER_MATCHES + 3):
        MembershipFactory(company=tenant_a.company, user=UserFactory(full_name=f"Pat Many {n:02}"))
    invitee = invitation_create(company=tenant_a.company, email="patnew@alpha.example",
                                created_by=tenant_a.owner.user, send=False).membership
    client = tenant_a.client_for(tenant_a.owner)
    page = client.get(TRANSFER).content.decode()
    assert 'name="new_owner"' not in page  # no menu of everyone before a search
    page = client.get(TRANSFER, {"q": "many 0"}).content.decode()
    assert page.count('name="new_owner"') == 10 and "Pat Many 00" in page
    page = client.get(TRANSFER, {"q": "PAT"}).content.decode()
    assert page.count('name="new_owner"') == TRANSFER_MATCHES
    assert f"The first {TRANSFER_MATCHES} matches" in page
    assert f'value="{invitee.pk}"' not in page  # not joined yet
    email = tenant_a.member.user.email
    page = client.get(TRANSFER, {"q": email.split("@")[0].upper()}).content.decode()
    assert f'value="{tenant_a.member.pk}"' in page
    page = client.get(TRANSFER, {"q": tenant_b.member.user.email}).content.decode()
    assert "data-no-match" in page and f'value="{tenant_b.member.pk}"' not in page


def test_ownership_cannot_go_to_someone_who_has_not_joined_or_elsewhere(tenant_a, tenant_b):
    invitee = invitation_create(company=tenant_a.company, email="new@alpha.example",
                                created_by=tenant_a.owner.user, send=False).membership
    client = tenant_a.client_for(tenant_a.owner)
    before = db_fingerprint()
    for candidate in (invitee.pk, tenant_b.member.pk, tenant_a.owner.pk):
        response = client.post(TRANSFER, {"new_owner": candidate})
        assert response.status_code == 400, candidate
    assert db_fingerprint() == before
    assert _owners(tenant_a.company) == [tenant_a.owner.pk]
