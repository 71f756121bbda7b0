"""Destructive actions confirm first, without JavaScript.

A POST without ``confirm=yes`` changes nothing and answers the confirmation page; that page's
form (posting the same address with the confirmation and any fields it must keep) does it.
Who may do each action is the tenant wall's matrix (tests/test_tenant_wall.py), which posts
with the confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import TestCase

from delivery.api.keys import api_key_create
from delivery.models import ApiKey, WebhookEndpoint
from delivery.webhooks.services import webhook_endpoint_create
from generation.models import Selfie
from identity.domains import domain_add
from identity.models import EmailDomain, ScimToken
from identity.scim.auth import token_create
from privacy.models import DataSubjectRequest
from teams.models import Invitation, InviteLink, Membership, Team
from teams.services.invitations import invitation_create, invite_link_create

from .conftest import Tenant
from .helpers import db_fingerprint, selfie_for


def _member(t: Tenant) -> tuple[str, Callable[[], bool]]:
    pk = t.member.pk
    return (f"/c/alpha/admin/people/{pk}/remove/",
            lambda: not Membership.objects.for_company(t.company).filter(pk=pk).exists())


def _invitation(t: Tenant):
    invitation = invitation_create(company=t.company, email="pending@alpha.example",
                                   created_by=t.owner.user)
    return (f"/c/alpha/admin/invitations/{invitation.pk}/revoke/",
            lambda: Invitation.objects.for_company(t.company).get(pk=invitation.pk).revoked_at is not None)


def _link(t: Tenant):
    link, _ = invite_link_create(company=t.company, created_by=t.owner.user)
    return (f"/c/alpha/admin/links/{link.pk}/revoke/",
            lambda: InviteLink.objects.for_company(t.company).get(pk=link.pk).revoked_at is not None)


def _team(t: Tenant):
    pk = t.team.pk
    return (f"/c/alpha/admin/teams/{pk}/",
            lambda: not Team.objects.for_company(t.company).filter(pk=pk).exists())


def _api_key(t: Tenant):
    key, _ = api_key_create(company=t.company, actor=t.owner, name="ci", scope="read")
    return (f"/c/alpha/admin/api-keys/{key.pk}/revoke/",
            lambda: ApiKey.objects.for_company(t.company).get(pk=key.pk).revoked_at is not None)


def _webhook(t: Tenant):
    endpoint, _ = webhook_endpoint_create(company=t.company, actor=t.owner,
                                          url="https://93.184.216.34/hook", events=["job.ready"])
    return (f"/c/alpha/admin/webhooks/{endpoint.pk}/delete/",
            lambda: not WebhookEndpoint.objects.for_company(t.company).filter(pk=endpoint.pk).exists())


def _selfie(t: Tenant):
    selfie = selfie_for(t.member)
    return (f"/c/alpha/selfies/{selfie.pk}/delete/",
            lambda: not Selfie.objects.for_company(t.company).filter(pk=selfie.pk).exists())


def _domain(t: Tenant):
    domain = domain_add(company=t.company, actor=t.owner, domain="alpha.example", method="dns")
    return (f"/c/alpha/admin/sso/domains/{domain.pk}/remove/",
            lambda: not EmailDomain.objects.for_company(t.company).filter(pk=domain.pk).exists())


def _scim_token(t: Tenant):
    token, _ = token_create(company=t.company, actor=t.owner, name="Entra")
    return (f"/c/alpha/admin/scim/tokens/{token.pk}/revoke/",
            lambda: ScimToken.objects.for_company(t.company).get(pk=token.pk).revoked_at is not None)


def _erasure(t: Tenant):
    return (f"/c/alpha/admin/people/{t.member.pk}/data/erasure/",
            lambda: DataSubjectRequest.objects.for_company(t.company).filter(kind="erasure").exists())


# (what, who does it, the object and a check that it was done, fields the button posts)
ACTIONS = [
    ("remove a member", "admin", _member, {}),
    ("withdraw an invitation", "admin", _invitation, {}),
    ("revoke an invite link", "admin", _link, {}),
    ("delete a team", "admin", _team, {"action": "delete"}),
    ("revoke an API key", "admin", _api_key, {}),
    ("delete a webhook endpoint", "admin", _webhook, {}),
    ("delete one's own selfie", "member", _selfie, {}),
    ("delete someone's selfie as admin", "admin", _selfie, {}),
    ("remove an SSO domain", "admin", _domain, {}),
    ("revoke a SCIM token", "admin", _scim_token, {}),
    ("erase a member's data on their behalf", "admin", _erasure, {}),
]


def _hidden_fields(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', html, re.S)
    assert form, "the confirmation page has a form"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[2]))
    fields.pop("csrfmiddlewaretoken", None)
    return {"action_url": form[1], **fields}


@pytest.mark.parametrize(("what", "role", "make", "button"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_without_confirmation_nothing_changes_and_the_page_asks(tenant_a, what, role, make,
                                                                button):
    url, done = make(tenant_a)
    client = tenant_a.client_for(getattr(tenant_a, role))
    before = db_fingerprint()
    with TestCase.captureOnCommitCallbacks(execute=True) as work:
        response = client.post(url, button)
    assert response.status_code == 200
    assert db_fingerprint() == before and work == []
    assert not done()
    html = response.content.decode()
    assert '<button type="submit" class="danger">Yes,' in html
    assert "No, go back" in html
    # A wrong confirmation value is no confirmation either.
    assert client.post(url, {**button, "confirm": "on"}).status_code == 200
    assert db_fingerprint() == before


@pytest.mark.parametrize(("what", "role", "make", "button"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_the_confirmation_page_form_does_it(tenant_a, what, role, make, button):
    url, done = make(tenant_a)
    client = tenant_a.client_for(getattr(tenant_a, role))
    fields = _hidden_fields(client.post(url, button).content.decode())
    action_url = fields.pop("action_url")
    assert action_url == url and fields == {**button, "confirm": "yes"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(action_url, fields)
    assert response.status_code == 302
    assert done()


def test_removing_a_sign_in_factor_asks_first(tenant_a):
    from allauth.mfa.models import Authenticator

    from .test_two_factor import _set_up_totp

    client = tenant_a.client_for(tenant_a.admin)
    _set_up_totp(client)
    totp = Authenticator.objects.get(user=tenant_a.admin.user, type="totp")
    response = client.post(f"/account/security/{totp.pk}/remove/")
    assert response.status_code == 200 and b"Remove this sign-in factor?" in response.content
    assert Authenticator.objects.filter(pk=totp.pk).exists()
    fields = _hidden_fields(response.content.decode())
    assert client.post(fields.pop("action_url"), fields).status_code == 302
    assert not Authenticator.objects.filter(pk=totp.pk).exists()


def test_someone_elses_factor_is_not_asked_about(tenant_a):
    """The confirmation page must not tell who owns a factor: another person's pk gets the
    same answer as before (nothing removed, back to one's own page)."""
    from allauth.mfa.models import Authenticator

    from .test_two_factor import _set_up_totp

    _set_up_totp(tenant_a.client_for(tenant_a.admin))
    totp = Authenticator.objects.get(user=tenant_a.admin.user, type="totp")
    owner = tenant_a.client_for(tenant_a.owner)
    _set_up_totp(owner)
    response = owner.post(f"/account/security/{totp.pk}/remove/")
    assert response.status_code == 302
    assert Authenticator.objects.filter(pk=totp.pk).exists()
