"""Management commands: createcompany, invite and demo."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from teams.models import Company, Invitation, InviteLink, Membership, Team, User

from .helpers import db_fingerprint

SET_PASSWORD_RE = re.compile(r"^http://testserver/password/reset/[\w-]+/[\w-]+/$", re.M)
NEW_PASSWORD = "Sturdy-Lantern-42-orbit"


def _run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def _signs_in(email: str, password: str) -> bool:
    client = Client()
    response = client.post("/login/", {"username": email, "password": password})
    return response.status_code == 302


def _create_acme(**extra) -> str:
    return _run("createcompany", "--name", "Acme Ltd", "--slug", "acme-ltd",
                "--owner-email", "Boss@Acme.example", **extra)


# --- createcompany -------------------------------------------------------------------------------


def test_createcompany_creates_company_and_owner(db):
    out = _create_acme(owner_name="Bea Boss")
    company = Company.objects.get(slug="acme-ltd")
    assert company.name == "Acme Ltd" and company.allowed_domains == []
    memberships = list(Membership.objects.for_company(company).select_related("user"))
    assert len(memberships) == 1
    owner = memberships[0]
    assert owner.role == Membership.Role.OWNER
    assert owner.status == Membership.Status.JOINED and owner.joined_at is not None
    assert owner.user.email == "boss@acme.example" and owner.user.full_name == "Bea Boss"
    assert not owner.user.has_usable_password()
    assert "Created Acme Ltd at /c/acme-ltd/" in out
    assert "boss@acme.example" in out
    assert len(SET_PASSWORD_RE.findall(out)) == 1


def test_createcompany_with_domains(db):
    _create_acme(domains="Acme.example, @acme.co.uk")
    assert Company.objects.get(slug="acme-ltd").allowed_domains == ["acme.example", "acme.co.uk"]


def test_set_password_link_works_once(db):
    out = _create_acme()
    path = urlsplit(SET_PASSWORD_RE.search(out).group(0)).path
    client = Client()

    response = client.get(path)
    assert response.status_code == 302
    form_url = response["Location"]
    assert form_url.endswith("/set-password/")
    form = client.get(form_url)
    assert form.status_code == 200 and b"new_password1" in form.content

    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/password/reset/done/"
    owner = User.objects.get(email="boss@acme.example")
    assert owner.check_password(NEW_PASSWORD)

    # The owner can now sign in with the password.
    assert _signs_in("boss@acme.example", NEW_PASSWORD)

    # The same link, even in a fresh browser, no longer works.
    again = Client().get(path, follow=True)
    assert again.status_code == 200
    assert b"expired or was already used" in again.content
    assert b"new_password1" not in again.content
    other = Client()
    other.get(path)
    other_password = {"new_password1": "Another-Pass-99-x", "new_password2": "Another-Pass-99-x"}
    response = other.post(path.rsplit("/", 2)[0] + "/set-password/", other_password)
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert b"new_password1" not in response.content


def test_set_password_link_refuses_a_weak_password(db):
    out = _create_acme()
    path = urlsplit(SET_PASSWORD_RE.search(out).group(0)).path
    client = Client()
    form_url = client.get(path)["Location"]
    response = client.post(form_url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200 and b"too short" in response.content
    assert not User.objects.get(email="boss@acme.example").has_usable_password()


def test_createcompany_duplicate_slug_is_refused(db):
    _create_acme()
    before = db_fingerprint()
    with pytest.raises(CommandError, match="already taken"):
        _run("createcompany", "--name", "Other", "--slug", "ACME-LTD",
             "--owner-email", "someone@other.example")
    assert db_fingerprint() == before


@pytest.mark.parametrize("slug", ["not a slug", "acme/ltd", "ünïcode", ""])
def test_createcompany_invalid_slug_is_refused(db, slug):
    before = db_fingerprint()
    with pytest.raises(CommandError):
        _run("createcompany", "--name", "Acme", "--slug", slug, "--owner-email", "a@acme.example")
    assert db_fingerprint() == before
    assert not User.objects.filter(email="a@acme.example").exists()


def test_createcompany_bad_domains_change_nothing(db):
    before = db_fingerprint()
    with pytest.raises(CommandError, match="not a domain name"):
        _create_acme(domains="acme.example, not_a_domain!")
    assert db_fingerprint() == before
    assert not Company.objects.filter(slug="acme-ltd").exists()


def test_createcompany_bad_owner_email_changes_nothing(db):
    before = db_fingerprint()
    with pytest.raises(CommandError, match="not an e-mail address"):
        _run("createcompany", "--name", "Acme", "--slug", "acme", "--owner-email", "not-an-email")
    assert db_fingerprint() == before


# --- invite --------------------------------------------------------------------------------------


def test_invite_creates_invitations_and_mails_them(tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = _run("invite", "alpha", "ann@alpha.example", "Bob@Alpha.example")
    invitations = Invitation.objects.for_company(tenant_a.company).filter(
        email__in=["ann@alpha.example", "bob@alpha.example"]
    )
    assert invitations.count() == 2
    assert all(i.created_by == tenant_a.owner.user and i.sent_at for i in invitations)
    members = Membership.objects.for_company(tenant_a.company).filter(
        user__email__in=["ann@alpha.example", "bob@alpha.example"]
    )
    assert {m.status for m in members} == {Membership.Status.INVITED} and members.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@alpha.example", "bob@alpha.example"]
    assert "ann@alpha.example: Invited" in out and "bob@alpha.example: Invited" in out


def test_invite_unknown_company_is_an_error(tenant_a):
    before = db_fingerprint()
    with pytest.raises(CommandError, match="No company with the slug 'nope'"):
        _run("invite", "nope", "ann@alpha.example")
    assert db_fingerprint() == before


def test_invite_bad_address_fails_but_good_ones_are_invited(
    tenant_a, django_capture_on_commit_callbacks
):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(CommandError, match="1 address"):
            call_command("invite", "alpha", "ann@alpha.example", "not-an-address",
                         "cat@alpha.example", stdout=out)
    invited = set(
        Invitation.objects.for_company(tenant_a.company).values_list("email", flat=True)
    )
    assert invited == {"ann@alpha.example", "cat@alpha.example"}
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@alpha.example", "cat@alpha.example"]
    assert "not-an-address: “not-an-address” is not an e-mail address." in out.getvalue()


def test_invite_does_not_reach_into_another_company(tenant_a, tenant_b,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _run("invite", "bravo", "new@bravo.example")
    assert not Invitation.objects.for_company(tenant_a.company).exists()
    invitation = Invitation.objects.for_company(tenant_b.company).get()
    assert invitation.email == "new@bravo.example"
    assert invitation.created_by == tenant_b.owner.user


# --- demo ----------------------------------------------------------------------------------------


def _demo_state(company: Company) -> dict:
    members = Membership.objects.for_company(company).select_related("user")
    return {
        "roles": sorted((m.user.email, m.role, m.status) for m in members),
        "teams": sorted(Team.objects.for_company(company).values_list("name", flat=True)),
        "links": InviteLink.objects.for_company(company).count(),
        "open_invitations": Invitation.objects.for_company(company)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True).count(),
    }


def test_demo_seeds_acme_and_can_run_twice(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = _run("demo")
    company = Company.objects.get(slug="acme")
    state = _demo_state(company)
    assert ("owner@acme.example", "owner", "joined") in state["roles"]
    assert ("admin@acme.example", "admin", "joined") in state["roles"]
    joined_members = [r for r in state["roles"] if r[1] == "member" and r[2] == "joined"]
    invited = [r for r in state["roles"] if r[2] == "invited"]
    assert len(joined_members) >= 1 and len(invited) >= 1
    assert state["open_invitations"] == len(invited)
    assert state["links"] == 1
    assert mail.outbox == []  # the demo prints its links instead of mailing them
    assert re.search(r"Invite link .*: http://testserver/join/[\w-]+/", out)
    assert "/c/acme/admin/" in out

    # The printed links work.
    join_path = urlsplit(re.search(r"http://testserver/join/[\w-]+/", out).group(0)).path
    assert Client().get(join_path).status_code == 200
    invite_url = re.search(r"http://testserver/invite/[\w-]+/", out).group(0)
    assert Client().get(urlsplit(invite_url).path).status_code == 200
    # The printed password signs the owner in.
    password = re.search(r"owner@acme\.example / (\S+)", out).group(1)
    assert _signs_in("owner@acme.example", password)
    assert not _signs_in("owner@acme.example", "not-the-password")

    with django_capture_on_commit_callbacks(execute=True):
        out_again = _run("demo")
    assert Company.objects.filter(slug="acme").count() == 1
    company_again = Company.objects.get(slug="acme")
    assert _demo_state(company_again) == state
    assert User.objects.filter(email="owner@acme.example").count() == 1
    # A fresh invite link each time; the old one is gone with the old company.
    new_join = re.search(r"http://testserver/join/[\w-]+/", out_again).group(0)
    assert urlsplit(new_join).path != join_path
    assert Client().get(join_path).status_code == 410
