"""The audit log of admin actions: recorded as they happen, per company, shown to owners."""

from __future__ import annotations

from identity.models import AuditEvent
from identity.scim.auth import token_create

from .helpers import candidate_for


def _events(company, action: str):
    return AuditEvent.objects.for_company(company).filter(action=action)


def test_admin_actions_across_the_product_are_recorded(tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/c/alpha/admin/invite/", {"emails": "new@alpha.example"},
                    REMOTE_ADDR="203.0.113.7")
    (invited,) = _events(tenant_a.company, "member.invited")
    assert invited.actor == tenant_a.admin.user and invited.actor_label == "admin@alpha.example"
    assert invited.details["emails"] == "new@alpha.example"
    assert invited.ip_address == "203.0.113.7"

    owner = tenant_a.client_for(tenant_a.owner)
    owner.post(f"/c/alpha/admin/people/{tenant_a.member.pk}/",
               {"job_title": "Lead", "role": "admin", "team": tenant_a.team.pk})
    (changed,) = _events(tenant_a.company, "member.changed")
    assert changed.target == "member@alpha.example" and changed.details["role"] == "admin"

    client.post("/c/alpha/admin/api-keys/", {"name": "HR sync", "scope": "read"})
    assert _events(tenant_a.company, "api_key.created").get().details["name"] == "HR sync"

    export = client.get("/c/alpha/admin/people.csv")
    b"".join(export.streaming_content)
    assert _events(tenant_a.company, "export.people_csv").exists()
    recorded = AuditEvent.objects.for_company(tenant_a.company).count()
    client.get("/c/alpha/admin/")  # reading a page is not an action
    client.get("/c/alpha/admin/api-keys/")
    assert AuditEvent.objects.for_company(tenant_a.company).count() == recorded

    candidate = candidate_for(tenant_a.member)
    client.post(f"/c/alpha/admin/review/{candidate.pk}/", {"action": "approve"})
    assert _events(tenant_a.company, "headshot.decided").get().details == {
        "action": "approve", "id": candidate.pk}

    owner.post(f"/c/alpha/admin/people/{tenant_a.admin.pk}/remove/", {"confirm": "yes"})
    assert _events(tenant_a.company, "member.removed").get().target == "admin@alpha.example"


def test_refused_actions_are_not_recorded_as_done(tenant_a):
    owner = tenant_a.client_for(tenant_a.owner)
    response = owner.post("/c/alpha/admin/close/", {"slug": "wrong"})
    assert response.status_code == 302  # with an error message
    assert not _events(tenant_a.company, "company.closed").exists()
    member = tenant_a.client_for(tenant_a.member)
    assert member.post("/c/alpha/admin/invite/", {"emails": "x@alpha.example"}).status_code == 403
    assert not _events(tenant_a.company, "member.invited").exists()


def test_identity_actions_are_recorded_by_their_services(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    client.post("/c/alpha/admin/scim/", {"action": "token", "name": "Okta"})
    token = _events(tenant_a.company, "scim.token_created").get()
    assert token.target.startswith("Okta (") and token.actor == tenant_a.admin.user
    client.post("/c/alpha/admin/sso/domains/", {"domain": "alpha.example", "method": "dns"})
    assert _events(tenant_a.company, "domain.added").get().target == "alpha.example"


def test_owners_see_their_own_company_s_log_only(tenant_a, tenant_b):
    token_create(company=tenant_b.company, actor=tenant_b.owner, name="B's token")
    token_create(company=tenant_a.company, actor=tenant_a.owner, name="A's token")
    page = tenant_a.client_for(tenant_a.owner).get("/c/alpha/admin/audit/")
    assert page.status_code == 200
    assert b"A&#x27;s token" in page.content and b"B&#x27;s token" not in page.content
    filtered = tenant_a.client_for(tenant_a.owner).get("/c/alpha/admin/audit/?action=scim")
    assert b"Created a SCIM token" in filtered.content
    assert tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/audit/").status_code == 403
    assert tenant_b.client_for(tenant_b.owner).get("/c/alpha/admin/audit/").status_code == 404
    odd = tenant_a.client_for(tenant_a.owner).get("/c/alpha/admin/audit/?action=%01&page=x")
    assert odd.status_code == 200
    # A NUL is refused before any view (RefuseNulBytesMiddleware), with a clear 400.
    nul = tenant_a.client_for(tenant_a.owner).get("/c/alpha/admin/audit/?action=%00")
    assert nul.status_code == 400
