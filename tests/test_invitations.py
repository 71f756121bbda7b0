"""The invitation lifecycle: personal invitations and shareable invite links."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from core.errors import ServiceError, TokenInvalid
from teams.models import Invitation, InviteLink, Membership
from teams.services.invitations import (
    invitation_create,
    invitation_reminders_send_due,
    invitation_send,
    invite_link_create,
    invite_link_use,
)
from teams.tasks import send_invitation_reminders

from .helpers import at_once, db_fingerprint, mailed_links, token_from

INVITE_RE = r"http://testserver/invite/[\w-]+/"


def _invite(tenant, email="new@alpha.example", **kwargs) -> tuple[Invitation, str]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        invitation = invitation_create(
            company=tenant.company, email=email, created_by=tenant.owner.user, **kwargs
        )
    return invitation, mailed_links(INVITE_RE)[-1]


# --- Personal invitations -------------------------------------------------------------


def test_accepting_an_invitation_joins_and_signs_in(tenant_a, client, django_capture_on_commit_callbacks):
    invitation, url = _invite(tenant_a, team=tenant_a.team, job_title="Designer")
    membership = invitation.membership
    assert membership.status == Membership.Status.INVITED and membership.joined_at is None

    page = client.get(url)  # a mail scanner opening the link spends nothing
    assert page.status_code == 200 and b"Accept the invitation" in page.content
    assert client.get(url).status_code == 200

    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/c/alpha/"
    membership.refresh_from_db()
    assert membership.status == Membership.Status.JOINED and membership.joined_at is not None
    assert membership.team == tenant_a.team and membership.job_title == "Designer"
    assert client.get("/c/alpha/").status_code == 200


def test_invitation_is_single_use(tenant_a, django_capture_on_commit_callbacks):
    from django.test import Client

    _, url = _invite(tenant_a)
    assert Client().post(url).status_code == 302
    before = db_fingerprint()
    again = Client().post(url)
    assert again.status_code == 410 and b"already been used" in again.content
    assert db_fingerprint() == before


def test_expired_invitation_shows_a_clear_page_and_changes_nothing(tenant_a, client,
                                                                    django_capture_on_commit_callbacks):
    _, url = _invite(tenant_a)
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        before = db_fingerprint()
        assert b"expired" in client.get(url).content
        response = client.post(url)
        assert response.status_code == 410 and b"expired" in response.content
        assert db_fingerprint() == before


def test_revoked_invitation_is_refused_and_the_invitee_leaves_the_list(
    tenant_a, client, django_capture_on_commit_callbacks
):
    invitation, url = _invite(tenant_a)
    admin = tenant_a.client_for(tenant_a.admin)
    admin.post(f"/c/alpha/admin/invitations/{invitation.pk}/revoke/", {"confirm": "yes"})
    assert not Membership.objects.for_company(tenant_a.company).filter(
        user__email="new@alpha.example"
    ).exists()
    before = db_fingerprint()
    response = client.post(url)
    assert response.status_code == 410 and b"withdrawn" in response.content
    assert db_fingerprint() == before


def test_wrong_domain_cannot_be_invited_or_accept(tenant_a, client, django_capture_on_commit_callbacks):
    tenant_a.company.allowed_domains = ["alpha.example"]
    tenant_a.company.save()
    with pytest.raises(ServiceError, match="only addresses at alpha.example"):
        invitation_create(company=tenant_a.company, email="x@evil.example",
                          created_by=tenant_a.owner.user)
    # An invitation made before the company tightened its domains stops working.
    tenant_a.company.allowed_domains = []
    tenant_a.company.save()
    _, url = _invite(tenant_a, email="x@gmail.example")
    tenant_a.company.allowed_domains = ["alpha.example"]
    tenant_a.company.save()
    before = db_fingerprint()
    response = client.post(url)
    assert response.status_code == 410 and b"own domains" in response.content
    assert db_fingerprint() == before


def test_unknown_token_is_a_clear_page(client, db):
    response = client.get("/invite/not-a-real-token/")
    assert response.status_code == 410 and b"not valid" in response.content


def test_pasting_many_addresses_reports_each(tenant_a, django_capture_on_commit_callbacks):
    admin = tenant_a.client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/c/alpha/admin/invite/", {
            "emails": "a@alpha.example, b@alpha.example;\nnot-an-email\nmember@alpha.example a@alpha.example",
        })
    assert response.status_code == 400
    body = response.content.decode()
    assert "“not-an-email” is not an e-mail address" in body
    assert "member@alpha.example is already a member" in body
    assert "a@alpha.example appears more than once" in body
    assert sorted(m.to[0] for m in mail.outbox) == ["a@alpha.example", "b@alpha.example"]


def test_send_later_then_send(tenant_a, django_capture_on_commit_callbacks):
    admin = tenant_a.client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/c/alpha/admin/invite/", {"emails": "later@alpha.example", "send_later": "on"})
    assert mail.outbox == []
    invitation = Invitation.objects.for_company(tenant_a.company).get(email="later@alpha.example")
    assert invitation.sent_at is None
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/c/alpha/admin/invitations/send/")
    assert [m.to for m in mail.outbox] == [["later@alpha.example"]]
    invitation.refresh_from_db()
    assert invitation.sent_at is not None


def test_manual_reminder_issues_a_new_link_and_kills_the_old(
    tenant_a, client, django_capture_on_commit_callbacks
):
    invitation, old_url = _invite(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.admin).post(
            f"/c/alpha/admin/invitations/{invitation.pk}/remind/"
        )
    new_url = mailed_links(INVITE_RE)[-1]
    assert new_url != old_url
    assert "Reminder" in mail.outbox[-1].subject
    assert client.post(old_url).status_code == 410
    assert client.post(new_url).status_code == 302


def test_automatic_reminders_follow_the_company_setting(tenant_a, django_capture_on_commit_callbacks):
    tenant_a.company.reminder_after_days = 3
    tenant_a.company.save()
    invitation, _ = _invite(tenant_a)
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=2)):
        assert invitation_reminders_send_due() == 0
    with time_machine.travel(start + timedelta(days=3, hours=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert send_invitation_reminders.delay().get() == 1
        assert invitation_reminders_send_due() == 0  # not again the same day
    with time_machine.travel(start + timedelta(days=7)):
        assert invitation_reminders_send_due() == 1
    with time_machine.travel(start + timedelta(days=11)):
        assert invitation_reminders_send_due() == 0  # at most two automatic reminders
    invitation.refresh_from_db()
    assert invitation.reminder_count == 2


def test_no_reminders_when_turned_off_or_accepted(tenant_a, client, django_capture_on_commit_callbacks):
    tenant_a.company.reminder_after_days = 0
    tenant_a.company.save()
    _invite(tenant_a)
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        assert invitation_reminders_send_due() == 0
    tenant_a.company.reminder_after_days = 1
    tenant_a.company.save()
    _, url = _invite(tenant_a, email="second@alpha.example")
    client.post(url)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert invitation_reminders_send_due() == 1  # only the first, still pending


def test_reinviting_replaces_the_open_invitation(tenant_a, client, django_capture_on_commit_callbacks):
    _, first = _invite(tenant_a)
    _, second = _invite(tenant_a)
    assert first != second
    assert client.post(first).status_code == 410
    assert client.post(second).status_code == 302
    assert Membership.objects.for_company(tenant_a.company).filter(
        user__email="new@alpha.example").count() == 1


def test_send_refused_for_accepted_invitation(tenant_a, client, django_capture_on_commit_callbacks):
    invitation, url = _invite(tenant_a)
    client.post(url)
    invitation.refresh_from_db()
    with pytest.raises(ServiceError, match="no longer open"):
        invitation_send(company=tenant_a.company, invitation=invitation)


# --- Shareable invite links -------------------------------------------------------------


def _link(tenant, **kwargs) -> tuple[InviteLink, str]:
    link, url = invite_link_create(company=tenant.company, created_by=tenant.owner.user, **kwargs)
    return link, url.replace("http://testserver", "")


def test_joining_through_a_link_confirms_the_address_first(
    tenant_a, client, django_capture_on_commit_callbacks
):
    link, url = _link(tenant_a, team=tenant_a.team)
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"full_name": "Lia Link", "email": "Lia@Alpha.example"})
    assert response.status_code == 200 and b"Check your e-mail" in response.content
    membership = Membership.objects.for_company(tenant_a.company).get(user__email="lia@alpha.example")
    assert membership.joined_at is None and membership.team == tenant_a.team
    link.refresh_from_db()
    assert link.uses == 1
    confirm = mailed_links(INVITE_RE)[-1]
    assert client.post(confirm).status_code == 302
    membership.refresh_from_db()
    assert membership.has_joined


def test_link_for_an_existing_member_sends_a_sign_in_link_and_uses_nothing(
    tenant_a, client, django_capture_on_commit_callbacks
):
    link, url = _link(tenant_a, max_uses=1)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"full_name": "M", "email": "member@alpha.example"})
    link.refresh_from_db()
    assert link.uses == 0
    assert mailed_links(r"http://testserver/login/link/[\w-]+/")


@pytest.mark.parametrize("state", ["expired", "revoked", "used_up"])
def test_dead_links_show_a_clear_page_and_change_nothing(state, tenant_a, client):
    link, url = _link(tenant_a, max_uses=1)
    if state == "revoked":
        tenant_a.client_for(tenant_a.admin).post(f"/c/alpha/admin/links/{link.pk}/revoke/",
                                                 {"confirm": "yes"})
    if state == "used_up":
        invite_link_use(raw_token=token_from(url), email="first@alpha.example", full_name="F")
    travel = timedelta(days=400) if state == "expired" else timedelta(0)
    if state == "expired":
        InviteLink.objects.for_company(tenant_a.company).filter(pk=link.pk).update(
            expires_at=timezone.now() + timedelta(days=1)
        )
    with time_machine.travel(timezone.now() + travel):
        before = db_fingerprint()
        for response in (client.get(url),
                         client.post(url, {"full_name": "Late", "email": "late@alpha.example"})):
            assert response.status_code == 410
            expected = {"expired": b"expired", "revoked": b"withdrawn", "used_up": b"limit"}[state]
            assert expected in response.content
        assert db_fingerprint() == before


def test_link_domain_restriction(tenant_a, client):
    _, url = _link(tenant_a, allowed_domain="alpha.example")
    before = db_fingerprint()
    response = client.post(url, {"full_name": "Out", "email": "out@elsewhere.example"})
    assert response.status_code == 400 and b"only accepts addresses at alpha.example" in response.content
    assert db_fingerprint() == before


def test_link_creation_validates_input(tenant_a):
    with pytest.raises(ServiceError, match="at least 1"):
        invite_link_create(company=tenant_a.company, created_by=tenant_a.owner.user, max_uses=0)
    with pytest.raises(ServiceError, match="future"):
        invite_link_create(company=tenant_a.company, created_by=tenant_a.owner.user,
                           expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceError, match="not a domain"):
        invite_link_create(company=tenant_a.company, created_by=tenant_a.owner.user,
                           allowed_domain="not a domain")


def test_admin_sees_a_new_link_once(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    response = admin.post("/c/alpha/admin/links/", {"label": "All hands", "max_uses": "50"})
    assert response.status_code == 200
    assert b"/join/" in response.content and b"shown only once" in response.content
    link = InviteLink.objects.for_company(tenant_a.company).get(label="All hands")
    assert link.max_uses == 50
    assert b"/join/" not in admin.get("/c/alpha/admin/links/").content
    # Stored hashed: the raw token is nowhere in the database.
    raw = response.content.split(b"/join/")[1].split(b"/")[0].decode()
    assert link.token_hash != raw and raw.startswith(link.token_prefix)


@pytest.mark.django_db(transaction=True)
def test_two_people_racing_for_the_last_use_only_one_wins(tenant_a):
    """On PostgreSQL: both requests reach the UPDATE at once; the row lock decides."""
    assert connection.vendor == "postgresql"
    link, url = _link(tenant_a, max_uses=2)
    invite_link_use(raw_token=token_from(url), email="early@alpha.example", full_name="Early")

    results: list[str] = []

    def join(email: str) -> None:
        try:
            invite_link_use(raw_token=token_from(url), email=email, full_name="Racer")
            results.append("ok")
        except TokenInvalid as error:
            results.append(error.reason)

    at_once(join, [f"racer{i}@alpha.example" for i in range(2)])
    assert sorted(results) == ["ok", "used_up"]
    link.refresh_from_db()
    assert link.uses == 2
    invited = Invitation.objects.for_company(tenant_a.company).filter(invite_link=link).count()
    assert invited == 2
