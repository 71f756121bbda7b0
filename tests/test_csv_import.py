"""Importing people from a CSV file: every row valid and imported, or nothing changes."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.html import escape

from teams.models import Invitation, Membership, Team
from teams.services.csv_import import CsvImportInvalid, csv_import_check, csv_import_run

from .factories import MembershipFactory, UserFactory
from .helpers import db_fingerprint

IMPORT_URL = "/c/alpha/admin/import/"
ERROR_ROW_RE = re.compile(r'<tr><td>(\d+|—)</td><td class="error">([^<]*)</td></tr>')

VALID = (
    b"email,name,team,job_title\n"
    b"ada@alpha.example,Ada Lovelace,engineering,Analyst\n"
    b"Grace@Alpha.example,Grace Hopper,Research,Rear Admiral\n"
    b"\n"
    b"linus@alpha.example,Linus,research,\n"
    b"margaret@alpha.example,,,\n"
)
VALID_EMAILS = {"ada@alpha.example", "grace@alpha.example", "linus@alpha.example",
                "margaret@alpha.example"}


def _upload(data: bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _post(client, data: bytes, action: str = "import", **extra):
    return client.post(IMPORT_URL, {"file": _upload(data), "action": action, **extra})


def _members(tenant, emails):
    return {
        m.user.email: m
        for m in Membership.objects.for_company(tenant.company)
        .select_related("user", "team").filter(user__email__in=emails)
    }


def _rendered_errors(response) -> list[tuple[str, str]]:
    return ERROR_ROW_RE.findall(response.content.decode())


# --- A valid file --------------------------------------------------------------------------------


def test_valid_file_imports_everyone_and_sends_invitations(
    tenant_a, django_capture_on_commit_callbacks
):
    client = tenant_a.client_for(tenant_a.admin)
    teams_before = set(Team.objects.for_company(tenant_a.company).values_list("name", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, VALID)

    assert response.status_code == 302 and response["Location"] == "/c/alpha/admin/"
    members = _members(tenant_a, VALID_EMAILS)
    assert set(members) == VALID_EMAILS
    assert {m.status for m in members.values()} == {Membership.Status.INVITED}
    assert all(m.joined_at is None and m.role == Membership.Role.MEMBER for m in members.values())
    assert all(m.added_by == tenant_a.admin.user for m in members.values())

    # An existing team is matched whatever its case; a missing one is created once.
    teams_after = set(Team.objects.for_company(tenant_a.company).values_list("name", flat=True))
    assert teams_after - teams_before == {"Research"}
    assert members["ada@alpha.example"].team == tenant_a.team
    research = Team.objects.for_company(tenant_a.company).get(name="Research")
    assert members["grace@alpha.example"].team == research
    assert members["linus@alpha.example"].team == research
    assert members["margaret@alpha.example"].team is None

    assert members["ada@alpha.example"].job_title == "Analyst"
    assert members["grace@alpha.example"].job_title == "Rear Admiral"
    assert members["grace@alpha.example"].user.full_name == "Grace Hopper"
    assert members["linus@alpha.example"].job_title == ""

    invitations = Invitation.objects.for_company(tenant_a.company).filter(
        email__in=VALID_EMAILS
    )
    assert invitations.count() == 4
    assert {i.source for i in invitations} == {Invitation.Source.CSV}
    assert all(i.sent_at is not None and i.created_by == tenant_a.admin.user for i in invitations)

    assert sorted(m.to[0] for m in mail.outbox) == sorted(VALID_EMAILS)
    assert all("/invite/" in m.body for m in mail.outbox)

    page = client.get(response["Location"])
    assert b"Imported 4 people." in page.content


def test_send_later_imports_without_mailing(tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, VALID, send_later="on")

    assert response.status_code == 302
    assert set(_members(tenant_a, VALID_EMAILS)) == VALID_EMAILS
    assert mail.outbox == []
    invitations = Invitation.objects.for_company(tenant_a.company).filter(email__in=VALID_EMAILS)
    assert invitations.count() == 4
    assert all(i.sent_at is None for i in invitations)
    dashboard = client.get("/c/alpha/admin/")
    assert b"4 invitation(s) saved but not sent yet." in dashboard.content


def test_header_aliases_are_understood(tenant_a, django_capture_on_commit_callbacks):
    data = (b"E-mail,Full name,Job title\n"
            b"ada@alpha.example,Ada Lovelace,Analyst\n")
    result = csv_import_check(company=tenant_a.company, data=data)
    assert result.ok, result.errors
    assert [(r.line, r.email, r.name, r.job_title) for r in result.rows] == [
        (2, "ada@alpha.example", "Ada Lovelace", "Analyst")
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(tenant_a.client_for(tenant_a.admin), data)
    assert response.status_code == 302
    member = _members(tenant_a, ["ada@alpha.example"])["ada@alpha.example"]
    assert member.user.full_name == "Ada Lovelace" and member.job_title == "Analyst"


def test_utf8_byte_order_mark_is_ignored(tenant_a, django_capture_on_commit_callbacks):
    data = "\ufeffemail,name\nzoe@alpha.example,Zoë Ångström\n".encode()
    assert data.startswith(b"\xef\xbb\xbf")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(tenant_a.client_for(tenant_a.admin), data)
    assert response.status_code == 302
    member = _members(tenant_a, ["zoe@alpha.example"])["zoe@alpha.example"]
    assert member.user.full_name == "Zoë Ångström"


def test_someone_invited_but_not_joined_is_invited_again(
    tenant_a, django_capture_on_commit_callbacks
):
    from teams.services.invitations import invitation_create

    first = invitation_create(company=tenant_a.company, email="ada@alpha.example",
                              created_by=tenant_a.owner.user, send=False)
    data = b"email,job_title\nada@alpha.example,Analyst\n"
    with django_capture_on_commit_callbacks(execute=True):
        result = csv_import_run(company=tenant_a.company, created_by=tenant_a.owner.user,
                                data=data)
    assert result.ok
    first.refresh_from_db()
    assert first.revoked_at is not None
    open_invitations = Invitation.objects.for_company(tenant_a.company).filter(
        email="ada@alpha.example", revoked_at__isnull=True
    )
    assert open_invitations.count() == 1
    assert _members(tenant_a, ["ada@alpha.example"])["ada@alpha.example"].job_title == "Analyst"
    assert [m.to for m in mail.outbox] == [["ada@alpha.example"]]


# --- A file with bad rows ------------------------------------------------------------------------

LONG_NAME = "N" * 201
BAD_ROWS = (
    "email,name,team,job_title\n"                         # 1
    "good@alpha.example,Good Person,,\n"                   # 2
    "not-an-email,Bad Address,,\n"                         # 3
    "GOOD@alpha.example,Same Person Again,,\n"             # 4
    "member@alpha.example,Already Here,,\n"                # 5
    "someone@elsewhere.example,Wrong Domain,,\n"           # 6
    "short@alpha.example,Too Few\n"                        # 7
    f"long@alpha.example,{LONG_NAME},,\n"                  # 8
    ",Nobody,,\n"                                          # 9
    "fine@alpha.example,Fine Person,Research,Chemist\n"    # 10
    "many@alpha.example,Too,Many,Values,Here\n"            # 11
).encode()
EXPECTED_ERRORS = [
    (3, "“not-an-email” is not an e-mail address."),
    (4, "good@alpha.example is already on line 2."),
    (5, "member@alpha.example is already a member."),
    (6, "someone@elsewhere.example: only alpha.example may join."),
    (7, "Expected 4 values, found 2."),
    (8, "The name is longer than 200 characters."),
    (9, "The e-mail address is missing."),
    (11, "Expected 4 values, found 5."),
]


@pytest.fixture
def domain_limited(tenant_a):
    tenant_a.company.allowed_domains = ["alpha.example"]
    tenant_a.company.save(update_fields=["allowed_domains"])
    return tenant_a


def test_check_reports_every_problem_with_its_line(domain_limited):
    before = db_fingerprint()
    result = csv_import_check(company=domain_limited.company, data=BAD_ROWS)
    assert not result.ok
    assert result.errors == EXPECTED_ERRORS
    assert db_fingerprint() == before


def test_import_with_bad_rows_imports_nothing(domain_limited, django_capture_on_commit_callbacks):
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(CsvImportInvalid) as caught:
            csv_import_run(company=domain_limited.company, created_by=domain_limited.owner.user,
                           data=BAD_ROWS)
    assert caught.value.result.errors == EXPECTED_ERRORS
    assert "8 problem(s)" in str(caught.value)
    assert db_fingerprint() == before
    assert mail.outbox == []


@pytest.mark.parametrize("action", ["import", "check"])
def test_view_answers_400_listing_each_problem(domain_limited, action,
                                               django_capture_on_commit_callbacks):
    client = domain_limited.client_for(domain_limited.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, BAD_ROWS, action=action)
    assert response.status_code == 400
    assert b"8 problems: nothing was imported" in response.content
    assert _rendered_errors(response) == [(str(line), escape(msg)) for line, msg in EXPECTED_ERRORS]
    assert db_fingerprint() == before
    assert mail.outbox == []


def test_over_long_team_and_job_title_are_reported_together(tenant_a):
    data = f"email,team,job_title\na@alpha.example,{'T' * 121},{'J' * 121}\n".encode()
    result = csv_import_check(company=tenant_a.company, data=data)
    assert result.errors == [
        (2, "The team is longer than 120 characters. The job title is longer than 120 characters.")
    ]


def test_a_row_that_fails_during_the_import_undoes_the_whole_import(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    """Something changes between the check and the import: the rows already made go too."""
    from teams.services import csv_import as module

    real = module.csv_import_check

    def then_linus_joins(**kwargs):
        checked = real(**kwargs)  # the file was fine when checked...
        MembershipFactory(company=tenant_a.company, user=UserFactory(
            email="linus@alpha.example"), joined_at=timezone.now(), status="joined")
        return checked  # ...and Linus joined on his own before the import ran

    monkeypatch.setattr(module, "csv_import_check", then_linus_joins)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(CsvImportInvalid) as caught:
            csv_import_run(company=tenant_a.company, created_by=tenant_a.owner.user, data=VALID)
    assert caught.value.result.errors == [(5, "linus@alpha.example is already a member of Alpha.")]
    after = db_fingerprint()
    # Nothing of the import stayed; only Linus's own joining (made by the test) is there.
    assert len(after["teams.Membership"]) == len(before["teams.Membership"]) + 1
    assert after["teams.Invitation"] == before["teams.Invitation"]
    assert after["teams.Team"] == before["teams.Team"]
    assert mail.outbox == []


# --- Files that are not usable at all ------------------------------------------------------------

UNUSABLE = {
    "missing email column": (b"name,team\nAda,Engineering\n", "No “email” column"),
    "unknown column": (b"email,name,salary\nada@alpha.example,Ada,100\n",
                       "Unknown column(s): salary"),
    "header only": (b"email,name\n", "The file has no rows under its header."),
    "not utf-8": ("email,name\njörg@alpha.example,Jörg\n".encode("latin-1"),
                  "The file is not UTF-8 text."),
    "binary with NUL bytes": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00email,name\x00\x00",
                              "This is not a CSV file."),
    "image": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "The file is not UTF-8 text."),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_file_gives_a_clear_message_and_changes_nothing(
    tenant_a, case, django_capture_on_commit_callbacks
):
    data, message = UNUSABLE[case]
    result = csv_import_check(company=tenant_a.company, data=data)
    assert not result.ok and result.rows == []
    assert len(result.errors) == 1 and message in result.errors[0][1]

    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, data)
    assert response.status_code == 400
    assert escape(message).encode() in response.content
    assert db_fingerprint() == before
    assert mail.outbox == []


def test_empty_file_gives_a_clear_message_and_changes_nothing(tenant_a):
    result = csv_import_check(company=tenant_a.company, data=b"")
    assert result.errors == [
        (1, "The file is empty. The first line must name the columns.")
    ]

    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = _post(client, b"")
    assert response.status_code == 400
    assert b"The submitted file is empty." in response.content
    assert db_fingerprint() == before


def test_post_without_a_file_asks_for_one(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(IMPORT_URL, {"action": "import"})
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert db_fingerprint() == before


# --- Check only ----------------------------------------------------------------------------------


def test_check_action_validates_without_importing(tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, VALID, action="check")
    assert response.status_code == 200
    assert b"Ready: 4 people" in response.content
    assert b"New teams: Research" in response.content
    assert b"linus@alpha.example" in response.content  # who will be imported, row by row
    assert _rendered_errors(response) == []
    assert db_fingerprint() == before
    assert mail.outbox == []


def test_the_check_does_not_see_other_companies(tenant_a, tenant_b):
    """Bravo's members and teams mean nothing to Alpha's import."""
    data = b"email,team\nowner@bravo.example,Engineering\nnew@alpha.example,Engineering\n"
    result = csv_import_check(company=tenant_a.company, data=data)
    assert result.ok, result.errors
    assert result.new_teams == []
    assert [r.email for r in result.rows] == ["owner@bravo.example", "new@alpha.example"]


def test_line_numbers_count_line_breaks_inside_quoted_cells(tenant_a):
    """A spreadsheet cell may hold a line break; later problems keep their real line."""
    data = (
        b"email,name,job_title\n"                          # 1
        b'ann@alpha.example,Ann,"Head of\nPeople"\n'       # 2-3
        b"bad-address,Bob,\n"                              # 4
        b"ann@alpha.example,Ann again,\n"                  # 5
    )
    result = csv_import_check(company=tenant_a.company, data=data)
    assert result.errors == [
        (4, "“bad-address” is not an e-mail address."),
        (5, "ann@alpha.example is already on line 2."),
    ]
    assert result.rows[0].job_title == "Head of\nPeople"


def test_files_over_the_size_limit_are_refused(tenant_a):
    from teams.services.csv_import import MAX_BYTES

    data = b"email\n" + b"x" * MAX_BYTES
    result = csv_import_check(company=tenant_a.company, data=data)
    assert result.errors == [(0, "The file is larger than 5 MB.")]


def test_too_many_rows_are_refused(tenant_a, settings):
    settings.CSV_IMPORT_MAX_ROWS = 3
    data = "email\n" + "".join(f"p{i}@alpha.example\n" for i in range(4))
    result = csv_import_check(company=tenant_a.company, data=data.encode())
    assert result.errors == [(5, "More than 3 rows; split the file.")]
    before = db_fingerprint()
    with pytest.raises(CsvImportInvalid):
        csv_import_run(company=tenant_a.company, created_by=tenant_a.owner.user,
                       data=data.encode())
    assert db_fingerprint() == before
