"""Setting up a company's SSO in tests, and signing in through the fake providers."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from core.crypto import encrypt
from identity.models import EmailDomain, SsoConnection

from .fakes.oidc import FakeOIDCProvider
from .fakes.saml_idp import FakeSamlIdP

SAML_HOST = "app.likeness.test"  # python3-saml refuses single-label hosts such as "testserver"


def verified_domain(company, domain: str) -> EmailDomain:
    return EmailDomain.objects.create(company=company, domain=domain, token="t0ken",
                                      verified_at=timezone.now(),
                                      proof={"method": "dns", "answers": ["test"]})


def oidc_connection(company, provider: FakeOIDCProvider, **fields) -> SsoConnection:
    provider.register("likeness-client", "s3cret-value",
                      f"http://testserver/accounts/oidc/c-{company.slug}/login/callback/")
    return SsoConnection.objects.create(
        company=company, protocol="oidc", enabled=True, oidc_issuer=provider.issuer,
        oidc_client_id="likeness-client", oidc_client_secret=encrypt("s3cret-value"), **fields)


def saml_connection(company, idp: FakeSamlIdP, **fields) -> SsoConnection:
    return SsoConnection.objects.create(
        company=company, protocol="saml", enabled=True, saml_idp_entity_id=idp.entity_id,
        saml_idp_sso_url=idp.sso_url, saml_idp_x509_cert=idp.cert_body, **fields)


def oidc_sign_in(client: Client, provider: FakeOIDCProvider, email: str,
                 start: str = "/sso/alpha/", **claims):
    """The whole browser journey; returns our answer to the provider's redirect back."""
    provider.login_as(email, **claims)
    response = client.post(start, {"email": email} if start == "/sso/" else {})
    assert response.status_code == 302, response.content
    back = provider.authorize(response["Location"])
    assert back.startswith("http://testserver/accounts/oidc/")
    return client.get(back.removeprefix("http://testserver"))


def saml_sign_in(client: Client, idp: FakeSamlIdP, email: str, tamper: str = "",
                 slug: str = "alpha", **attributes):
    response = client.post(f"/sso/{slug}/")
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(idp.sso_url)
    form = idp.answer(response["Location"], email=email, tamper=tamper, **attributes)
    acs = client.post(f"/accounts/saml/{slug}/acs/", form)
    assert acs.status_code == 302
    return client.get(acs["Location"])


def signed_in_as(client: Client) -> str | None:
    from django.contrib.auth import get_user_model

    user_id = client.session.get("_auth_user_id")
    if user_id is None:
        return None
    return get_user_model().objects.get(pk=user_id).email
