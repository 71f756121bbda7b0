"""Signing in: admins with passwords (Argon2, throttled, resettable); employees by e-mailed link."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.test import Client, TestCase
from django.utils import timezone

from teams.models import LoginToken
from teams.services.auth import login_link_request

from .helpers import db_fingerprint, mailed_links

LINK_RE = r"http://testserver/login/link/[\w-]+/"


def _request_link(email: str) -> str | None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        login_link_request(email=email)
    links = mailed_links(LINK_RE)
    return links[-1] if links else None


def test_base_settings_hash_passwords_with_argon2():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_admin_signs_in_with_email_and_password(tenant_a, client):
    response = client.post("/login/", {"username": "ADMIN@alpha.example",
                                       "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/c/alpha/admin/").status_code == 200


def test_repeated_wrong_passwords_lock_the_account_from_that_address(tenant_a):
    client = Client()
    for attempt in range(5):
        email = "ADMIN@alpha.example" if attempt % 2 else "admin@alpha.example"
        response = client.post("/login/", {"username": email, "password": "nope"})
        assert response.status_code in (200, 429)
    locked = client.post("/login/", {"username": "admin@alpha.example",
                                     "password": "correct-horse-battery"})
    assert locked.status_code == 429
    assert b"Too many sign-in attempts" in locked.content
    assert client.get("/c/alpha/admin/").status_code == 302  # still signed out


def test_password_reset_sets_a_new_password_once(tenant_a, client, django_capture_on_commit_callbacks):
    client.post("/password/reset/", {"email": "owner@alpha.example"})
    url = mailed_links(r"http://testserver/password/reset/[\w-]+/[\w-]+/")[-1]
    form = client.get(url, follow=True)
    set_url = form.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "a-brand-new-passphrase",
                                     "new_password2": "a-brand-new-passphrase"})
    assert response.status_code == 302
    fresh = Client()
    signed_in = fresh.post("/login/", {"username": "owner@alpha.example",
                                       "password": "a-brand-new-passphrase"})
    assert signed_in.status_code == 302
    again = Client().get(url, follow=True)
    assert b"expired or was already used" in again.content


def test_employee_signs_in_with_a_single_use_link(tenant_a):
    url = _request_link("Member@Alpha.example")
    assert url and mail.outbox[-1].to == ["member@alpha.example"]
    client = Client()
    assert client.get(url).status_code == 200  # shows a button; spends nothing
    assert client.post(url).status_code == 302
    assert client.get("/c/alpha/").status_code == 200

    other = Client()
    before = db_fingerprint()
    reused = other.post(url)
    assert reused.status_code == 410 and b"already been used" in reused.content
    assert db_fingerprint() == before
    assert other.get("/c/alpha/").status_code == 302


def test_sign_in_link_expires(tenant_a):
    url = _request_link("member@alpha.example")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = Client().post(url)
    assert response.status_code == 410 and b"expired" in response.content


def test_wrong_token_is_refused(db):
    response = Client().post("/login/link/forged-token/")
    assert response.status_code == 410 and b"not valid" in response.content


def test_link_request_reveals_nothing_about_who_is_a_member(tenant_a, client):
    known = client.post("/login/link/", {"email": "member@alpha.example"})
    unknown = client.post("/login/link/", {"email": "stranger@alpha.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.content.replace(b"member@", b"X@") == unknown.content.replace(b"stranger@", b"X@")


def test_people_who_never_joined_get_no_link(tenant_a):
    from teams.services.invitations import invitation_create

    invitation_create(company=tenant_a.company, email="pending@alpha.example",
                      created_by=tenant_a.owner.user, send=False)
    assert _request_link("pending@alpha.example") is None


def test_link_requests_are_rate_limited(tenant_a):
    for _ in range(5):
        _request_link("member@alpha.example")
    sent = len(mail.outbox)
    _request_link("member@alpha.example")
    assert len(mail.outbox) == sent == 5
    assert LoginToken.objects.filter(user=tenant_a.member.user).count() == 5


def test_employees_have_no_usable_password(tenant_a, django_capture_on_commit_callbacks):
    from teams.services.invitations import invitation_create

    invitation = invitation_create(company=tenant_a.company, email="emp@alpha.example",
                                   created_by=tenant_a.owner.user)
    assert not invitation.membership.user.has_usable_password()
