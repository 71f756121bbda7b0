"""Signing in through a company's SAML 2.0 identity provider (signed assertions)."""

from __future__ import annotations

import pytest
from django.test import Client

from identity.models import SsoConnection
from teams.models import Membership

from .fakes.saml_idp import FakeSamlIdP
from .sso import SAML_HOST, saml_connection, saml_sign_in, signed_in_as, verified_domain


@pytest.fixture
def idp() -> FakeSamlIdP:
    return FakeSamlIdP()


@pytest.fixture
def saml_a(tenant_a, idp, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, SAML_HOST]
    verified_domain(tenant_a.company, "alpha.example")
    return saml_connection(tenant_a.company, idp)


def _client() -> Client:
    return Client(HTTP_HOST=SAML_HOST)


def test_a_member_signs_in_with_a_signed_assertion(saml_a, idp):
    client = _client()
    response = saml_sign_in(client, idp, "member@alpha.example")
    assert response.status_code == 302 and response["Location"] == "/c/alpha/"
    assert signed_in_as(client) == "member@alpha.example"


def test_the_sp_metadata_names_our_acs(saml_a):
    response = _client().get("/accounts/saml/alpha/metadata/")
    assert response.status_code == 200
    assert b"http://app.likeness.test/accounts/saml/alpha/acs/" in response.content


def test_attribute_mapping_names_the_person(saml_a, idp, tenant_a):
    saml_a.jit_join = True
    saml_a.attribute_mapping = {"email": "mail", "first_name": "fn", "last_name": "ln"}
    saml_a.save()
    client = _client()
    response = saml_sign_in(client, idp, "not-used@elsewhere.example",
                            mail="new.person@alpha.example", fn="New", ln="Person")
    assert response.status_code == 302
    membership = Membership.objects.for_company(tenant_a.company).get(
        user__email="new.person@alpha.example")
    assert membership.user.full_name == "New Person"


@pytest.mark.parametrize(("tamper", "reason"), [
    ("unsigned", "Assertion of the Response is not signed"),
    ("other_key", "Signature validation failed"),
    ("altered", "Signature validation failed"),
    ("audience", "is not a valid audience"),
    ("expired", "Could not validate timestamp: expired"),
    ("in_response_to", "Forbidden (Permission denied)"),  # answers no request of ours
])
def test_a_wrong_assertion_is_refused(saml_a, idp, tamper, reason, caplog):
    client = _client()
    response = saml_sign_in(client, idp, "member@alpha.example", tamper=tamper)
    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert reason in caplog.text


def test_an_idp_initiated_response_is_refused(saml_a, idp, caplog):
    client = _client()
    xml = idp.response_xml(in_response_to="", acs=f"http://{SAML_HOST}/accounts/saml/alpha/acs/",
                           audience=f"http://{SAML_HOST}/accounts/saml/alpha/metadata/",
                           email="member@alpha.example",
                           attributes={"email": "member@alpha.example"})
    import base64

    acs = client.post("/accounts/saml/alpha/acs/",
                      {"SAMLResponse": base64.b64encode(xml.encode()).decode()})
    assert client.get(acs["Location"]).status_code == 403
    assert signed_in_as(client) is None
    assert "IdP initiated SSO rejected" in caplog.text


def test_a_garbage_response_is_refused_not_a_500(saml_a):
    client = _client()
    for body in ({"SAMLResponse": "not base64 !!"}, {"SAMLResponse": "PGZvbz4="}, {}):
        acs = client.post("/accounts/saml/alpha/acs/", body)
        assert client.get(acs["Location"]).status_code in (401, 403)


def test_metadata_upload_fills_the_connection(tenant_a, idp):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/sso/", {
        "action": "save", "protocol": "saml", "enabled": "on",
        "saml_metadata_file": SimpleUploadedFile("idp.xml", idp.metadata().encode()),
    })
    assert response.status_code == 302, response.content
    connection = SsoConnection.objects.for_company(tenant_a.company).get()
    assert connection.saml_idp_entity_id == idp.entity_id
    assert connection.saml_idp_sso_url == idp.sso_url
    assert connection.saml_idp_x509_cert == idp.cert_body
    bad = client.post("/c/alpha/admin/sso/", {
        "action": "save", "protocol": "saml",
        "saml_metadata_file": SimpleUploadedFile("x.xml", b"<html>nope</html>")})
    assert bad.status_code == 400 and b"not SAML metadata" in bad.content
