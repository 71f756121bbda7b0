"""Verified e-mail domains (DNS TXT or a file) and enforced SSO, with the owner's way back in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import Client

from identity.models import AuditEvent, EmailDomain, SsoConnection
from teams.services.invitations import invitation_create

from .fakes.dns_server import dns_server  # noqa: F401 - the fixture
from .fakes.oidc import oidc_provider  # noqa: F401 - the fixture
from .helpers import db_fingerprint, mailed_links, token_from
from .sso import oidc_connection, oidc_sign_in, signed_in_as, verified_domain

SSO_PAGE = "/c/alpha/admin/sso/"


def _add(client, domain: str, method: str = "dns") -> EmailDomain:
    response = client.post("/c/alpha/admin/sso/domains/", {"domain": domain, "method": method})
    assert response.status_code == 302
    return EmailDomain.objects.unscoped().get(domain=domain, company__slug="alpha")


def test_a_domain_is_verified_by_its_txt_record(tenant_a, dns_server):  # noqa: F811
    client = tenant_a.client_for(tenant_a.admin)
    domain = _add(client, "alpha.example")
    page = client.get(SSO_PAGE)
    assert f"likeness-domain-verification={domain.token}".encode() in page.content
    # Not published yet: not verified, and the page says why.
    client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/")
    domain.refresh_from_db()
    assert domain.verified_at is None and "No TXT record" in domain.last_error
    dns_server.txt("_likeness-challenge.alpha.example", "v=spf1 -all",
                   f"likeness-domain-verification={domain.token}")
    client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/")
    domain.refresh_from_db()
    assert domain.verified_at is not None
    assert domain.proof["record"] == "_likeness-challenge.alpha.example"
    assert f"likeness-domain-verification={domain.token}" in domain.proof["answers"]
    assert AuditEvent.objects.for_company(tenant_a.company).filter(
        action="domain.verified", target="alpha.example").exists()


def test_a_resolver_that_never_answers_gives_up_with_a_message(tenant_a, dns_server):  # noqa: F811
    dns_server.silent = True
    client = tenant_a.client_for(tenant_a.admin)
    domain = _add(client, "alpha.example")
    started = time.monotonic()
    response = client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/", follow=True)
    assert time.monotonic() - started < 5
    assert b"No DNS answer" in response.content
    domain.refresh_from_db()
    assert domain.verified_at is None


@pytest.fixture
def web_server() -> Iterator[dict[str, str]]:
    files: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write((body or "not found").encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    files["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield files
    server.shutdown()
    server.server_close()


def test_a_domain_is_verified_by_a_file(tenant_a, web_server, settings):
    settings.DOMAIN_VERIFICATION_FILE_URL = (
        web_server["base"] + "/{domain}/.well-known/likeness-domain-verification.txt")
    client = tenant_a.client_for(tenant_a.admin)
    domain = _add(client, "alpha.example", method="file")
    client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/")
    domain.refresh_from_db()
    assert domain.verified_at is None and "404" in domain.last_error
    web_server["/alpha.example/.well-known/likeness-domain-verification.txt"] = domain.token + "\n"
    client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/")
    domain.refresh_from_db()
    assert domain.verified_at is not None and domain.proof["status"] == 200


def test_a_domain_verified_by_one_company_cannot_be_claimed_by_another(
        tenant_a, tenant_b, dns_server):  # noqa: F811
    verified_domain(tenant_b.company, "shared.example")
    client = tenant_a.client_for(tenant_a.admin)
    domain = _add(client, "shared.example")
    dns_server.txt("_likeness-challenge.shared.example",
                   f"likeness-domain-verification={domain.token}")
    response = client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/verify/", follow=True)
    assert b"Another company has already verified" in response.content
    domain.refresh_from_db()
    assert domain.verified_at is None


def test_a_malformed_domain_is_refused(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post("/c/alpha/admin/sso/domains/", {"domain": "not a domain",
                                                           "method": "dns"}, follow=True)
    assert b"is not a domain name" in response.content
    assert db_fingerprint() == before


# --- Configuring and enforcing SSO ----------------------------------------------------------


def test_an_admin_configures_oidc_and_the_secret_is_stored_encrypted(
        tenant_a, oidc_provider):  # noqa: F811
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(SSO_PAGE, {
        "action": "save", "protocol": "oidc", "oidc_issuer": oidc_provider.issuer,
        "oidc_client_id": "abc", "oidc_client_secret": "very-secret", "enabled": "on"})
    assert response.status_code == 302
    connection = SsoConnection.objects.for_company(tenant_a.company).get()
    assert connection.enabled and connection.oidc_client_id == "abc"
    assert "very-secret" not in connection.oidc_client_secret
    page = client.get(SSO_PAGE)
    assert b"very-secret" not in page.content
    assert b"http://testserver/accounts/oidc/c-alpha/login/callback/" in page.content
    # Saving again without a secret keeps the stored one.
    client.post(SSO_PAGE, {"action": "save", "protocol": "oidc", "enabled": "on",
                           "oidc_issuer": oidc_provider.issuer, "oidc_client_id": "abc"})
    connection.refresh_from_db()
    from core.crypto import decrypt
    assert decrypt(connection.oidc_client_secret) == "very-secret"


def test_private_issuer_urls_are_refused_in_production(tenant_a, settings):
    settings.SSO_ALLOW_PRIVATE_URLS = False
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(SSO_PAGE, {
        "action": "save", "protocol": "oidc", "oidc_issuer": "https://127.0.0.1:9/",
        "oidc_client_id": "abc", "oidc_client_secret": "s", "enabled": "on"})
    assert response.status_code == 400
    assert b"private, local or reserved" in response.content
    assert not SsoConnection.objects.for_company(tenant_a.company).exists()


def test_an_unverified_domain_cannot_enforce_sso(tenant_a, oidc_provider):  # noqa: F811
    connection = oidc_connection(tenant_a.company, oidc_provider)
    EmailDomain.objects.create(company=tenant_a.company, domain="alpha.example", token="t")
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(SSO_PAGE, {"action": "enforce"}, follow=True)
    assert b"Verify at least one e-mail domain first" in response.content
    connection.refresh_from_db()
    assert not connection.enforced
    # And a password still works for everyone there.
    password = Client().post("/login/", {"username": "admin@alpha.example",
                                         "password": "correct-horse-battery"})
    assert password.status_code == 302


@pytest.fixture
def enforced_a(tenant_a, oidc_provider):  # noqa: F811
    verified_domain(tenant_a.company, "alpha.example")
    connection = oidc_connection(tenant_a.company, oidc_provider)
    response = tenant_a.client_for(tenant_a.admin).post(SSO_PAGE, {"action": "enforce"})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.enforced
    return connection


def test_enforced_sso_refuses_passwords_and_links_but_not_the_owner(
        enforced_a, tenant_a, oidc_provider, django_capture_on_commit_callbacks):  # noqa: F811
    from axes.models import AccessAttempt

    admin = Client()
    response = admin.post("/login/", {"username": "admin@alpha.example",
                                      "password": "correct-horse-battery"})
    assert response.status_code == 403 and b"Use Alpha's sign-in" in response.content
    assert signed_in_as(admin) is None
    assert not AccessAttempt.objects.exists()  # not a failed password: no lockout counted
    with django_capture_on_commit_callbacks(execute=True):
        link = Client().post("/login/link/", {"email": "member@alpha.example"})
    assert link.status_code == 403 and mail.outbox == []
    # The owner keeps the password as the way back in when the provider fails.
    owner = Client()
    assert owner.post("/login/", {"username": "owner@alpha.example",
                                  "password": "correct-horse-battery"}).status_code == 302
    assert signed_in_as(owner) == "owner@alpha.example"
    # Through the provider, everyone signs in.
    member = Client()
    assert oidc_sign_in(member, oidc_provider, "member@alpha.example").status_code == 302
    assert signed_in_as(member) == "member@alpha.example"


def test_enforced_sso_sends_invitees_through_the_provider(
        enforced_a, tenant_a, oidc_provider, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(company=tenant_a.company, email="new@alpha.example",
                          created_by=tenant_a.admin.user)
    (link,) = mailed_links(r"http://testserver/invite/\S+/")
    client = Client()
    response = client.post(f"/invite/{token_from(link)}/")
    assert response.status_code == 302 and response["Location"] == "/sso/alpha/"
    assert signed_in_as(client) is None
    assert oidc_sign_in(client, oidc_provider, "new@alpha.example").status_code == 302
    assert signed_in_as(client) == "new@alpha.example"


def test_other_domains_are_not_affected_by_enforcement(enforced_a, tenant_b):
    client = Client()
    assert client.post("/login/", {"username": "admin@bravo.example",
                                   "password": "correct-horse-battery"}).status_code == 302


def test_removing_the_last_verified_domain_ends_enforcement(enforced_a, tenant_a):
    domain = EmailDomain.objects.for_company(tenant_a.company).get()
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(f"/c/alpha/admin/sso/domains/{domain.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    enforced_a.refresh_from_db()
    assert not enforced_a.enforced
    assert Client().post("/login/", {"username": "admin@alpha.example",
                                     "password": "correct-horse-battery"}).status_code == 302


def test_turning_sso_off_ends_enforcement(enforced_a, tenant_a, oidc_provider):  # noqa: F811
    client = tenant_a.client_for(tenant_a.admin)
    client.post(SSO_PAGE, {"action": "save", "protocol": "oidc", "oidc_issuer": oidc_provider.issuer,
                           "oidc_client_id": "likeness-client"})
    enforced_a.refresh_from_db()
    assert not enforced_a.enabled and not enforced_a.enforced
