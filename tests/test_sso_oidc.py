"""Signing in through a company's OpenID Connect provider (a strict local one)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from identity.models import AuditEvent
from privacy.models import ConsentRecord
from teams.models import Invitation, Membership
from teams.services.invitations import invitation_create

from .fakes.oidc import oidc_provider  # noqa: F401 - the fixture
from .sso import oidc_connection, oidc_sign_in, signed_in_as, verified_domain


@pytest.fixture
def sso_a(tenant_a, oidc_provider):  # noqa: F811
    verified_domain(tenant_a.company, "alpha.example")
    return oidc_connection(tenant_a.company, oidc_provider)


def test_a_member_signs_in_through_the_provider(sso_a, oidc_provider, tenant_a):  # noqa: F811
    client = Client()
    response = oidc_sign_in(client, oidc_provider, "member@alpha.example", start="/sso/")
    assert response.status_code == 302 and response["Location"] == "/c/alpha/"
    assert signed_in_as(client) == "member@alpha.example"
    assert client.get("/c/alpha/").status_code in (200, 302)


def test_the_authorization_request_carries_state_nonce_and_pkce(sso_a, oidc_provider):  # noqa: F811
    response = Client().post("/sso/alpha/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    assert query["state"][0] and query["nonce"][0]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["redirect_uri"] == ["http://testserver/accounts/oidc/c-alpha/login/callback/"]


def test_an_invited_person_joins_without_consenting(sso_a, oidc_provider, tenant_a):  # noqa: F811
    invitation = invitation_create(company=tenant_a.company, email="new@alpha.example",
                                   created_by=tenant_a.admin.user, send=False)
    client = Client()
    response = oidc_sign_in(client, oidc_provider, "new@alpha.example", name="New Person")
    assert response.status_code == 302
    membership = Membership.objects.for_company(tenant_a.company).get(pk=invitation.membership_id)
    assert membership.has_joined and membership.status == Membership.Status.JOINED
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert not ConsentRecord.objects.for_company(tenant_a.company).filter(
        subject_email="new@alpha.example").exists()


def test_strangers_join_only_when_the_admin_allows_it(sso_a, oidc_provider, tenant_a):  # noqa: F811
    client = Client()
    refused = oidc_sign_in(client, oidc_provider, "stranger@alpha.example")
    assert refused.status_code == 403 and b"not a member" in refused.content
    assert signed_in_as(client) is None
    assert not Membership.objects.for_company(tenant_a.company).filter(
        user__email="stranger@alpha.example").exists()
    sso_a.jit_join = True
    sso_a.save()
    joined = oidc_sign_in(Client(), oidc_provider, "stranger@alpha.example",
                          given_name="Stan", family_name="Ger")
    assert joined.status_code == 302
    membership = Membership.objects.for_company(tenant_a.company).get(
        user__email="stranger@alpha.example")
    assert membership.role == Membership.Role.MEMBER and membership.has_joined
    assert Invitation.objects.for_company(tenant_a.company).get(
        membership=membership).source == Invitation.Source.SSO


def test_the_provider_cannot_sign_in_an_address_outside_the_verified_domains(
        sso_a, oidc_provider, tenant_a, tenant_b):  # noqa: F811
    """Company A's provider asserting the e-mail of B's owner must not open B's account."""
    sso_a.jit_join = True
    sso_a.save()
    client = Client()
    response = oidc_sign_in(client, oidc_provider, "owner@bravo.example")
    assert response.status_code == 403
    assert signed_in_as(client) is None
    event = AuditEvent.objects.for_company(tenant_a.company).get(action="sso.signin_denied")
    assert "verified domains" in event.details["reason"]


@pytest.mark.parametrize(("tamper", "reason"), [
    ({"aud": "someone-else"}, "Audience doesn't match"),
    ({"iss": "http://evil.example"}, "Invalid issuer"),
    ({"expired": True}, "expired"),
    ({"other_key": True}, "Signature verification failed"),
    ({"unsigned": True}, "'none', which is not accepted"),
    ({"no_id_token": True}, "no id_token"),
])
def test_a_wrong_id_token_is_refused(sso_a, oidc_provider, tamper, reason, caplog):  # noqa: F811
    oidc_provider.tamper(**tamper)
    client = Client()
    response = oidc_sign_in(client, oidc_provider, "member@alpha.example")
    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert reason in caplog.text


def test_an_id_token_for_another_request_is_refused(sso_a, oidc_provider, tenant_a):  # noqa: F811
    oidc_provider.tamper(nonce="the-nonce-of-another-request")
    client = Client()
    assert oidc_sign_in(client, oidc_provider, "member@alpha.example").status_code == 403
    assert signed_in_as(client) is None
    event = AuditEvent.objects.for_company(tenant_a.company).get(action="sso.signin_denied")
    assert event.details == {"reason": "nonce"}


def test_a_callback_without_its_state_or_with_a_spent_code_is_refused(sso_a, oidc_provider):  # noqa: F811
    client = Client()
    oidc_provider.login_as("member@alpha.example")
    start = client.post("/sso/alpha/")
    back = oidc_provider.authorize(start["Location"]).removeprefix("http://testserver")
    stranger = Client()  # another browser: no state in its session
    assert stranger.get(back).status_code in (401, 403)
    assert signed_in_as(stranger) is None
    assert client.get(back).status_code == 302  # the real one (the code was not spent)
    replay = Client()
    replay.post("/sso/alpha/")
    assert replay.get(back).status_code in (401, 403)
    assert signed_in_as(replay) is None


def test_an_unreachable_provider_is_a_clear_502(sso_a, oidc_provider):  # noqa: F811
    oidc_provider.down = True
    response = Client().post("/sso/alpha/")
    assert response.status_code == 502
    assert b"could not be reached" in response.content


def test_sso_of_a_disabled_or_unknown_company_is_404(sso_a, tenant_b):
    sso_a.enabled = False
    sso_a.save()
    assert Client().post("/sso/alpha/").status_code == 404
    assert Client().get("/sso/bravo/").status_code == 404
    assert Client().get("/accounts/oidc/c-alpha/login/callback/?code=x&state=y").status_code == 404
    start = Client().post("/sso/", {"email": "someone@alpha.example"})
    assert start.status_code == 400 and b"No company has set up" in start.content


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(sso_a, oidc_provider):  # noqa: F811
    for asked, landing in (("/c/alpha/headshots/", "/c/alpha/headshots/"),
                           ("https://evil.example/steal", "/c/alpha/")):
        client = Client()
        oidc_provider.login_as("member@alpha.example")
        start = client.post("/sso/alpha/", {"next": asked})
        back = oidc_provider.authorize(start["Location"]).removeprefix("http://testserver")
        assert client.get(back)["Location"] == landing


def test_the_sign_in_page_offers_sso(db):
    page = Client().get("/login/?next=/c/alpha/admin/")
    assert b'href="/sso/?next=/c/alpha/admin/"' in page.content
