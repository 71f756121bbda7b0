"""Two-factor authentication for owners and admins: TOTP with recovery codes, security keys
(WebAuthn), and the owner's requirement for every admin."""

from __future__ import annotations

import json
import re
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client

from identity.models import AuditEvent, SecuritySettings
from teams.models import Team

from .fakes.webauthn import SoftwareAuthenticator
from .helpers import db_fingerprint

DASHBOARD = "/c/alpha/admin/"


def _code(secret: str, offset: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def _set_up_totp(client: Client) -> tuple[str, list[str]]:
    page = client.get("/account/security/totp/")
    assert page.status_code == 200 and b"<svg" in page.content
    secret = re.search(rb'id="totp-secret">([A-Z2-7]+)<', page.content).group(1).decode()
    done = client.post("/account/security/totp/", {"code": _code(secret)})
    assert done.status_code == 200, done.content
    codes = re.findall(rb"<li><code>(\d+)</code></li>", done.content)
    return secret, [c.decode() for c in codes]


def test_an_admin_sets_up_totp_and_is_asked_for_it_at_the_next_sign_in(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    secret, codes = _set_up_totp(client)
    assert len(codes) == 10
    row = Authenticator.objects.get(user=tenant_a.admin.user, type="totp")
    assert secret not in json.dumps(row.data)  # the seed is stored encrypted
    assert client.get(DASHBOARD).status_code == 200  # this session proved it just now

    later = tenant_a.client_for(tenant_a.admin)  # a new sign-in
    response = later.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == "/account/security/verify/?next=%2Fc%2Falpha%2Fadmin%2F"
    wrong = later.post("/account/security/verify/", {"code": "000000", "next": DASHBOARD})
    assert wrong.status_code == 400 and later.get(DASHBOARD).status_code == 302
    # Half a minute on: a fresh code (the one used at set-up cannot be replayed).
    with time_machine.travel(time.time() + 31):
        ok = later.post("/account/security/verify/", {"code": _code(secret), "next": DASHBOARD})
        assert ok.status_code == 302 and ok["Location"] == DASHBOARD
        assert later.get(DASHBOARD).status_code == 200


def test_a_totp_code_cannot_be_used_twice(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    secret, _ = _set_up_totp(client)
    used = _code(secret)
    other = tenant_a.client_for(tenant_a.admin)
    assert other.post("/account/security/verify/", {"code": used}).status_code == 400


def test_a_recovery_code_works_once(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    _, codes = _set_up_totp(client)
    first = tenant_a.client_for(tenant_a.owner)
    assert first.post("/account/security/verify/", {"code": codes[0],
                                                    "next": DASHBOARD}).status_code == 302
    assert first.get(DASHBOARD).status_code == 200
    second = tenant_a.client_for(tenant_a.owner)
    assert second.post("/account/security/verify/", {"code": codes[0]}).status_code == 400


def test_members_pages_never_ask_for_a_second_factor(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    _set_up_totp(client)
    fresh = tenant_a.client_for(tenant_a.admin)
    assert fresh.get("/c/alpha/headshots/").status_code == 200  # their own page as a member


def test_too_many_wrong_codes_lock_the_check(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    secret, _ = _set_up_totp(client)
    other = tenant_a.client_for(tenant_a.admin)
    for _ in range(10):
        other.post("/account/security/verify/", {"code": "123456"})
    locked = other.post("/account/security/verify/", {"code": _code(secret, offset=1)})
    assert locked.status_code == 400 and b"Too many wrong codes" in locked.content


# --- The owner's requirement ------------------------------------------------------------------


def test_the_owner_requires_2fa_and_admins_must_set_it_up(tenant_a):
    owner = tenant_a.client_for(tenant_a.owner)
    refused = owner.post("/c/alpha/admin/security/", {"require_admin_2fa": "on"})
    assert refused.status_code == 400 and b"for yourself first" in refused.content
    assert not SecuritySettings.objects.for_company(tenant_a.company).exists()
    _set_up_totp(owner)
    assert owner.post("/c/alpha/admin/security/",
                      {"require_admin_2fa": "on"}).status_code == 302
    assert SecuritySettings.objects.for_company(tenant_a.company).get().require_admin_2fa
    assert AuditEvent.objects.for_company(tenant_a.company).filter(action="2fa.required").exists()

    admin = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    blocked = admin.post("/c/alpha/admin/teams/", {"name": "Sneaky"})
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/account/security/?next=")
    assert db_fingerprint() == before
    assert not Team.objects.for_company(tenant_a.company).filter(name="Sneaky").exists()
    _set_up_totp(admin)
    assert admin.post("/c/alpha/admin/teams/", {"name": "Allowed"}).status_code == 302
    assert Team.objects.for_company(tenant_a.company).filter(name="Allowed").exists()


def test_only_the_owner_sees_the_security_page(tenant_a, tenant_b):
    assert tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/security/").status_code == 403
    assert tenant_a.client_for(tenant_a.member).get("/c/alpha/admin/security/").status_code == 403
    assert tenant_b.client_for(tenant_b.owner).get("/c/alpha/admin/security/").status_code == 404
    page = tenant_a.client_for(tenant_a.owner).get("/c/alpha/admin/security/")
    assert page.status_code == 200 and b"admin@alpha.example" in page.content


# --- Security keys --------------------------------------------------------------------------


@pytest.fixture
def insecure_origin(settings):
    # The test client speaks plain http; production requires https.
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True


def _options(page) -> dict:
    data = re.search(rb'<script id="webauthn-options" type="application/json">(.*?)</script>',
                     page.content, re.S).group(1)
    return json.loads(data)


def test_an_admin_adds_a_security_key_and_signs_in_with_it(tenant_a, insecure_origin):
    key = SoftwareAuthenticator(origin="http://testserver")
    client = tenant_a.client_for(tenant_a.admin)
    page = client.get("/account/security/keys/add/")
    credential = key.create(_options(page)["creation_options"])
    added = client.post("/account/security/keys/add/",
                        {"name": "YubiKey", "credential": json.dumps(credential)})
    assert added.status_code == 302, added.content
    assert Authenticator.objects.filter(user=tenant_a.admin.user, type="webauthn").count() == 1

    later = tenant_a.client_for(tenant_a.admin)
    assert later.get(DASHBOARD)["Location"].startswith("/account/security/verify/")
    options = later.get("/account/security/verify/key/").json()["request_options"]
    assertion = key.get(options)
    done = later.post("/account/security/verify/key/",
                      {"credential": json.dumps(assertion), "next": DASHBOARD})
    assert done.status_code == 302 and done["Location"] == DASHBOARD
    assert later.get(DASHBOARD).status_code == 200


def test_a_forged_key_answer_is_refused(tenant_a, insecure_origin):
    key = SoftwareAuthenticator(origin="http://testserver")
    client = tenant_a.client_for(tenant_a.admin)
    credential = key.create(_options(client.get("/account/security/keys/add/"))[
        "creation_options"])
    client.post("/account/security/keys/add/", {"name": "Key", "credential": json.dumps(credential)})
    later = tenant_a.client_for(tenant_a.admin)
    options = later.get("/account/security/verify/key/").json()["request_options"]
    other_site = key.get(options, rp_id="evil.example")  # signed for another site
    refused = later.post("/account/security/verify/key/",
                         {"credential": json.dumps(other_site), "next": DASHBOARD})
    assert refused.status_code == 302 and refused["Location"].startswith("/account/security/verify/")
    assert later.get(DASHBOARD).status_code == 302
    for garbage in ("", "{}", "[1]", '{"id": "x", "response": {}}'):
        response = later.post("/account/security/verify/key/", {"credential": garbage})
        assert response.status_code == 302


def test_removing_a_factor_needs_a_verified_session(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    _set_up_totp(client)
    totp = Authenticator.objects.get(user=tenant_a.admin.user, type="totp")
    stranger_session = tenant_a.client_for(tenant_a.admin)
    response = stranger_session.post(f"/account/security/{totp.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302 and "/verify/" in response["Location"]
    assert Authenticator.objects.filter(pk=totp.pk).exists()
    assert client.post(f"/account/security/{totp.pk}/remove/", {"confirm": "yes"}).status_code == 302
    assert not Authenticator.objects.filter(user=tenant_a.admin.user).exists()


def test_security_pages_need_a_sign_in(db):
    response = Client().get("/account/security/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
