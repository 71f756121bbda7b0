"""Every company URL, as owner, admin, member, anonymous and someone from another company.

The table below must name every URL under /c/<company_slug>/: a new URL without
an entry fails ``test_every_company_url_is_covered``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from delivery.api.keys import api_key_create
from delivery.webhooks.services import webhook_endpoint_create, webhook_event_emit
from generation.services.looks import look_version_create
from identity.domains import domain_add
from identity.scim.auth import token_create
from privacy.dsr import dsr_create, dsr_process
from teams.models import Invitation
from teams.services.invitations import invitation_create, invite_link_create

from .conftest import Tenant, _tenant
from .helpers import candidate_for, db_fingerprint, selfie_for


@dataclass
class Objects:
    """Objects of one company that URLs point at."""

    tenant: Tenant
    invitation: Invitation
    link_pk: int
    selfie_pk: int
    candidate_pk: int
    look_version_pk: int
    export_pk: int
    api_key_pk: int
    webhook_pk: int
    webhook_delivery_pk: int
    domain_pk: int = 0
    scim_token_pk: int = 0
    job_pk: int = 0


@dataclass(frozen=True)
class Url:
    role: str  # least role that may use it
    methods: tuple[str, ...] = ("GET", "POST")
    pk: Callable[[Objects], int] | None = None
    data: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # more URL arguments
    # What a permitted GET answers: pages that send people on to their next step redirect.
    ok: tuple[int, ...] = (200,)


MEMBER = lambda o: o.tenant.member.pk  # noqa: E731
TEAM = lambda o: o.tenant.team.pk  # noqa: E731
INVITATION = lambda o: o.invitation.pk  # noqa: E731
LINK = lambda o: o.link_pk  # noqa: E731
SELFIE = lambda o: o.selfie_pk  # noqa: E731
CANDIDATE = lambda o: o.candidate_pk  # noqa: E731
LOOK_VERSION = lambda o: o.look_version_pk  # noqa: E731
EXPORT = lambda o: o.export_pk  # noqa: E731
API_KEY = lambda o: o.api_key_pk  # noqa: E731
WEBHOOK = lambda o: o.webhook_pk  # noqa: E731
WEBHOOK_DELIVERY = lambda o: o.webhook_delivery_pk  # noqa: E731
DOMAIN = lambda o: o.domain_pk  # noqa: E731
SCIM_TOKEN = lambda o: o.scim_token_pk  # noqa: E731
JOB = lambda o: o.job_pk  # noqa: E731
# Destructive POSTs act only with the confirmation; the wall must hold with it too.
CONFIRMED = {"confirm": "yes"}
CONSENT = {"notice_version": "1", "signed_name": "Someone Else", "agree": "on"}

COMPANY_URLS: dict[str, Url] = {
    "teams:employee_home": Url("member", methods=("GET",)),
    "teams:dashboard": Url("admin", methods=("GET",)),
    "teams:members_csv": Url("admin", methods=("GET",)),
    "teams:member_add": Url("admin", data={"full_name": "Eve", "email": "eve@alpha.example"}),
    "teams:member_detail": Url("admin", pk=MEMBER, data={"job_title": "Changed", "role": "admin"}),
    "teams:member_remove": Url("admin", methods=("POST",), pk=MEMBER, data=CONFIRMED),
    "teams:invite": Url("admin", data={"emails": "new@alpha.example"}),
    "teams:csv_import": Url("admin", data={"action": "import"}),
    "teams:csv_import_template": Url("admin", methods=("GET",)),
    "teams:invitations_send": Url("admin", methods=("POST",)),
    "teams:invitation_remind": Url("admin", methods=("POST",), pk=INVITATION),
    "teams:invitation_revoke": Url("admin", methods=("POST",), pk=INVITATION, data=CONFIRMED),
    "teams:invite_links": Url("admin", data={"label": "New link"}),
    "teams:invite_link_revoke": Url("admin", methods=("POST",), pk=LINK, data=CONFIRMED),
    "teams:teams": Url("admin", data={"name": "Hackers"}),
    "teams:team_edit": Url("admin", pk=TEAM, data={"action": "delete", "confirm": "yes"}),
    "teams:company_settings": Url("admin", data={"name": "Hacked", "reminder_after_days": 1}),
    "teams:ownership_transfer": Url("owner", data={"new_owner": "1"}),
    "privacy:consent": Url("member", data=CONSENT),
    "privacy:consent_decline": Url("member", methods=("GET",)),
    "privacy:consent_withdraw": Url("member", data=CONFIRMED),
    "privacy:notice_edit": Url("admin", data={"body": "Changed notice text " * 5}),
    "privacy:paper_consent": Url("admin", pk=MEMBER, data=CONSENT),
    "teams:api_keys": Url("admin", data={"name": "sync", "scope": "write"}),
    "teams:api_key_revoke": Url("admin", methods=("POST",), pk=API_KEY, data=CONFIRMED),
    "generation:exports": Url("admin", methods=("GET",)),
    "generation:directory": Url("admin", data={"provider": "slack", "scim_token": "xoxp-1",
                                               "enabled": "on"}),
    "generation:directory_sync_now": Url("admin", methods=("POST",)),
    "integrations:webhooks": Url("admin", data={"url": "https://93.184.216.34/new",
                                                "events": ["job.ready"]}),
    "integrations:webhook_detail": Url("admin", methods=("GET",), pk=WEBHOOK),
    "integrations:webhook_delete": Url("admin", methods=("POST",), pk=WEBHOOK,
                                       data=CONFIRMED),
    "integrations:delivery_resend": Url("admin", methods=("POST",), pk=WEBHOOK_DELIVERY),
    "generation:people_csv": Url("admin", methods=("GET",)),
    "privacy:my_data": Url("member", methods=("GET",)),
    "privacy:my_data_export": Url("member", methods=("POST",)),
    "privacy:my_data_erase": Url("member", methods=("POST",), data={"confirm": "on"}),
    # The member's own copy: its owner and the company's admins may download it.
    "privacy:export_download": Url("member", methods=("GET",), pk=EXPORT),
    "privacy:privacy_admin": Url("admin", data={"unchosen_candidates_days": "1"}),
    "privacy:member_data_request": Url("admin", methods=("POST",), pk=MEMBER,
                                       extra={"kind": "erasure"}, data=CONFIRMED),
    "privacy:company_close": Url("owner", methods=("POST",), data={"slug": "alpha"}),
    "generation:selfies": Url("member", ok=(200, 302)),
    "generation:selfie_image": Url("member", methods=("GET",), pk=SELFIE),
    "generation:selfie_thumb": Url("member", methods=("GET",), pk=SELFIE),
    "generation:selfie_status": Url("member", methods=("GET",), pk=SELFIE),
    "generation:selfie_statuses": Url("member", methods=("GET",)),
    "generation:selfie_delete": Url("member", methods=("POST",), pk=SELFIE, data=CONFIRMED),
    "generation:member_selfies": Url("admin", pk=MEMBER),
    "generation:headshots": Url("member", methods=("GET",)),
    "generation:headshots_progress": Url("member", methods=("GET",)),
    # The member's own job: they and the company's admins may follow it.
    "generation:job_status": Url("member", methods=("GET",), pk=JOB),
    "generation:headshots_start": Url("member", methods=("POST",)),
    "generation:headshots_redo": Url("member", methods=("POST",)),
    "generation:candidate_favourite": Url("member", methods=("POST",), pk=CANDIDATE),
    "generation:candidate_image": Url("member", methods=("GET",), pk=CANDIDATE),
    "generation:candidate_thumb": Url("member", methods=("GET",), pk=CANDIDATE),
    "generation:looks": Url("admin", data={"preset": "minimal", "output_size": "1024"}),
    "generation:look_version": Url("admin", pk=LOOK_VERSION, data={"action": "approve"}),
    "generation:generate_for_team": Url("admin", methods=("POST",)),
    "generation:uniformity": Url("admin", methods=("GET",)),
    "generation:audit": Url("admin", methods=("GET",)),
    "generation:audit_thumb": Url("admin", methods=("GET",), pk=CANDIDATE),
    "generation:batches": Url("admin", methods=("GET",)),
    "generation:outdated_headshots": Url("admin", data={"count": "0"}),
    # The person's own approved headshot: the wall's member has none (404 for everyone
    # but the wall's checks of who is refused; tests/test_guidance.py downloads one).
    "generation:headshot_download": Url("member", methods=("GET",), ok=(200, 404)),
    "billing:billing": Url("admin", methods=("GET",)),
    "billing:buy": Url("admin", methods=("POST",)),
    "billing:portal": Url("admin", methods=("POST",)),
    "generation:review": Url("admin", methods=("GET",)),
    "generation:review_decide": Url("admin", methods=("POST",), pk=CANDIDATE,
                                    data={"action": "approve"}),
    "identity:sso_settings": Url("admin", data={"action": "save", "protocol": "oidc",
                                                "oidc_issuer": "https://idp.example.org",
                                                "oidc_client_id": "x",
                                                "oidc_client_secret": "y", "enabled": "on"}),
    "identity:domain_add": Url("admin", methods=("POST",), data={"domain": "hack.example",
                                                                 "method": "dns"}),
    "identity:domain_verify": Url("admin", methods=("POST",), pk=DOMAIN),
    "identity:domain_remove": Url("admin", methods=("POST",), pk=DOMAIN, data=CONFIRMED),
    "identity:scim_settings": Url("admin", data={"action": "token", "name": "Hacked"}),
    "identity:scim_token_revoke": Url("admin", methods=("POST",), pk=SCIM_TOKEN,
                                       data=CONFIRMED),
    "identity:security_admin": Url("owner", data={"require_admin_2fa": ""}),
    "identity:audit_log": Url("owner", methods=("GET",)),
}

ROLE_ORDER = {"member": 0, "admin": 1, "owner": 2}


def _company_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, route, ns)
            elif isinstance(p, URLPattern) and "company_slug" in route:
                names.add(f"{namespace}{p.name}")

    walk(get_resolver().url_patterns, "", "")
    return names


def test_every_company_url_is_covered():
    assert _company_url_names() == set(COMPANY_URLS), (
        "Every URL under /c/<company_slug>/ needs an entry in COMPANY_URLS"
    )


def _objects(tenant_a: Tenant) -> Objects:
    invitation = invitation_create(
        company=tenant_a.company, email="pending@alpha.example", created_by=tenant_a.owner.user
    )
    link, _ = invite_link_create(company=tenant_a.company, created_by=tenant_a.owner.user)
    selfie = selfie_for(tenant_a.member)
    candidate = candidate_for(tenant_a.member)
    draft = look_version_create(company=tenant_a.company, actor=tenant_a.owner, team=None,
                                preset="startup")
    export = dsr_create(company=tenant_a.company, membership=tenant_a.member,
                        requested_by=tenant_a.member, kind="export")
    dsr_process(company=tenant_a.company, request_id=export.pk)
    key, _ = api_key_create(company=tenant_a.company, actor=tenant_a.owner, name="k",
                            scope="read")
    # No request is made: the send waits for a commit that never comes in this test.
    endpoint, _ = webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.owner,
                                          url="https://93.184.216.34/hook", events=["job.ready"])
    (delivery,) = webhook_event_emit(company=tenant_a.company, event_type="job.ready", data={})
    domain = domain_add(company=tenant_a.company, actor=tenant_a.owner, domain="alpha.example",
                        method="dns")
    scim_token, _ = token_create(company=tenant_a.company, actor=tenant_a.owner, name="Entra")
    return Objects(tenant=tenant_a, invitation=invitation, link_pk=link.pk, selfie_pk=selfie.pk,
                   candidate_pk=candidate.pk, look_version_pk=draft.pk, export_pk=export.pk,
                   api_key_pk=key.pk, webhook_pk=endpoint.pk,
                   webhook_delivery_pk=delivery.pk, domain_pk=domain.pk,
                   scim_token_pk=scim_token.pk, job_pk=candidate.job_id)


@pytest.fixture(scope="module")
def _wall(django_db_setup, django_db_blocker) -> Iterator[tuple[Objects, Tenant]]:
    """Both companies and company A's objects, built once for the whole matrix. Each test
    still runs in a transaction of its own inside this one, rolled back after it, so what
    one request changes no other test sees."""
    with django_db_blocker.unblock(), transaction.atomic():
        objects = _objects(_tenant("alpha", "alpha.example"))
        yield objects, _tenant("bravo", "bravo.example")
        transaction.set_rollback(True)


@pytest.fixture
def objects_a(_wall, db) -> Objects:
    return _wall[0]


@pytest.fixture
def tenant_b(_wall, db) -> Tenant:
    return _wall[1]


def _url(name: str, slug: str, objects: Objects) -> str:
    spec = COMPANY_URLS[name]
    kwargs = {"company_slug": slug}
    if spec.pk:
        kwargs["pk"] = spec.pk(objects)
    return reverse(name, kwargs={**kwargs, **spec.extra})


def _request(client, method: str, url: str, data: dict):
    return client.get(url) if method == "GET" else client.post(url, data)


def _owner_of_b_gets_404_and_nothing_changes(tenant_b, name: str, method: str, slug: str,
                                             objects_a) -> None:
    client = tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    response = _request(client, method, _url(name, slug, objects_a), COMPANY_URLS[name].data)
    assert response.status_code == 404
    assert db_fingerprint() == before


CASES = [(name, method) for name, spec in COMPANY_URLS.items() for method in spec.methods]


@pytest.mark.parametrize(("name", "method"), CASES)
def test_outsider_gets_404_and_nothing_changes(name, method, objects_a, tenant_b):
    _owner_of_b_gets_404_and_nothing_changes(tenant_b, name, method, "alpha", objects_a)


@pytest.mark.parametrize(("name", "method"),
                         [c for c in CASES if COMPANY_URLS[c[0]].pk is not None])
def test_foreign_object_under_own_company_is_404(name, method, objects_a, tenant_b):
    """An admin of B asking for A's objects through B's own address."""
    _owner_of_b_gets_404_and_nothing_changes(tenant_b, name, method, "bravo", objects_a)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_anonymous_is_sent_to_sign_in_and_nothing_changes(name, method, client, objects_a):
    before = db_fingerprint()
    url = _url(name, "alpha", objects_a)
    response = _request(client, method, url, COMPANY_URLS[name].data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert db_fingerprint() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_roles_below_the_page_get_403_and_nothing_changes(name, method, objects_a):
    spec = COMPANY_URLS[name]
    tenant = objects_a.tenant
    for role in ("member", "admin"):
        if ROLE_ORDER[role] >= ROLE_ORDER[spec.role]:
            continue
        client = tenant.client_for(getattr(tenant, role))
        before = db_fingerprint()
        response = _request(client, method, _url(name, "alpha", objects_a), spec.data)
        assert response.status_code == 403, (role, name)
        assert db_fingerprint() == before


@pytest.mark.parametrize("name", [n for n, s in COMPANY_URLS.items() if "GET" in s.methods])
def test_allowed_roles_can_open_each_page(name, objects_a):
    spec = COMPANY_URLS[name]
    tenant = objects_a.tenant
    for role in ("member", "admin", "owner"):
        if ROLE_ORDER[role] < ROLE_ORDER[spec.role]:
            continue
        response = tenant.client_for(getattr(tenant, role)).get(_url(name, "alpha", objects_a))
        assert response.status_code in spec.ok, (role, name)
        if response.status_code == 302:
            assert response["Location"].startswith("/c/alpha/"), (role, name)


def test_foreign_company_is_indistinguishable_from_a_missing_one(objects_a, tenant_b):
    client = tenant_b.client_for(tenant_b.owner)
    foreign = client.get("/c/alpha/admin/")
    missing = client.get("/c/no-such-company/admin/")
    assert foreign.status_code == missing.status_code == 404
    # Identical apart from the per-response CSRF mask in the sign-out form.
    strip = lambda body: re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)  # noqa: E731
    assert strip(foreign.content) == strip(missing.content)


def test_a_member_who_never_joined_cannot_enter(objects_a):
    invitee = objects_a.invitation.membership
    client = objects_a.tenant.client_for(invitee)
    assert client.get("/c/alpha/").status_code == 404
