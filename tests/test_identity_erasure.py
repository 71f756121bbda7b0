"""Identity's personal data is registered with privacy: a leaver (here deactivated by the
company's directory through SCIM) loses their provisioned names, title and group memberships
and disappears from the admin-action log; their copy of their data includes both; closing
the company erases every identity record of it."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest

from identity.audit import audit_record
from identity.models import AuditEvent, ScimGroup, ScimGroupMember, ScimToken, ScimUser
from identity.personal_data import ERASED
from identity.scim.auth import token_create
from privacy.dsr import export_zip
from privacy.erasure import company_erase
from privacy.models import DeletionReceipt
from teams.models import Company, Membership

from .scim import GROUP, ScimClient, entra_deactivate, entra_user

EMAIL = "leaver@alpha.example"


@pytest.fixture
def provisioned(tenant_a):
    """A person provisioned by SCIM into a group, with audit lines as actor and as subject."""
    _, raw = token_create(company=tenant_a.company, actor=tenant_a.owner, name="Entra ID")
    scim = ScimClient(raw)
    response = scim.post("/Users", entra_user(EMAIL, EMAIL, "ext-leaver", given="Lea",
                                              family="Verity"))
    assert response.status_code == 201, response.content
    scim_id = response.json()["id"]
    scim.patch(f"/Users/{scim_id}", [{"op": "Replace", "path": "title", "value": "Designer"}])
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Design",
                                  "members": [{"value": scim_id}]})
    assert group.status_code == 201
    membership = Membership.objects.for_company(tenant_a.company).get(user__email=EMAIL)
    Membership.objects.for_company(tenant_a.company).filter(pk=membership.pk).update(
        status=Membership.Status.APPROVED, joined_at=membership.invited_at)
    audit_record(company=tenant_a.company, action="team.renamed", actor=membership.user,
                 target="Design", details={"by": EMAIL})
    audit_record(company=tenant_a.company, action="member.role_changed",
                 actor=tenant_a.owner.user, target=EMAIL, details={"email": EMAIL, "role": "admin"})
    return scim, scim_id, membership


def _lines_naming(company, text: str) -> list[AuditEvent]:
    return [event for event in AuditEvent.objects.for_company(company)
            if text in json.dumps([event.actor_label, event.target, event.details])]


def test_the_persons_copy_includes_their_provisioning_and_admin_actions(tenant_a, provisioned):
    _, _, membership = provisioned
    membership.refresh_from_db()
    with zipfile.ZipFile(BytesIO(export_zip(company=tenant_a.company,
                                            membership=membership))) as archive:
        data = json.loads(archive.read("data.json"))
    (provisioning,) = data["provisioning"]
    assert provisioning["given_name"] == "Lea" and provisioning["groups"] == ["Design"]
    assert {(line["action"], line["as"]) for line in data["admin_actions"]} >= {
        ("team.renamed", "actor"), ("member.role_changed", "subject")}


def test_a_leaver_deactivated_by_scim_loses_their_identity_data(tenant_a, provisioned,
                                                                 local_backend):
    scim, scim_id, membership = provisioned
    user_id = membership.user_id
    before = {event.pk for event in _lines_naming(tenant_a.company, EMAIL)}
    assert len(before) >= 3

    response = scim.patch(f"/Users/{scim_id}", entra_deactivate())
    assert response.status_code == 200 and response.json()["active"] is False

    assert not Membership.objects.for_company(tenant_a.company).filter(pk=membership.pk).exists()
    stub = ScimUser.objects.for_company(tenant_a.company).get(scim_id=scim_id)
    # Only what the identity provider matches on stays, so it can still read or reactivate it.
    assert (stub.given_name, stub.family_name, stub.display_name, stub.title) == ("", "", "", "")
    assert stub.active is False and stub.external_id == "ext-leaver"
    assert not ScimGroupMember.objects.for_company(tenant_a.company).filter(user=stub).exists()
    assert "Lea" not in json.dumps(scim.get(f"/Users/{scim_id}").json())
    # Every audit line from before the leave names an erased person instead.
    for event in AuditEvent.objects.for_company(tenant_a.company).filter(pk__in=before):
        assert EMAIL not in json.dumps([event.actor_label, event.target, event.details]), event
        assert event.actor_id != user_id
    assert AuditEvent.objects.for_company(tenant_a.company).filter(
        action="team.renamed", actor_label=ERASED).exists()
    kinds = set(DeletionReceipt.objects.for_company(tenant_a.company).filter(
        subject_user_id=user_id).values_list("kind", flat=True))
    assert {"scim_user", "audit_event", "member"} <= kinds

    # Deleted by the provider: nothing of it stays.
    assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert not ScimUser.objects.for_company(tenant_a.company).filter(scim_id=scim_id).exists()


def test_closing_the_company_erases_every_identity_record(tenant_a, tenant_b, provisioned,
                                                         local_backend):
    _, raw_b = token_create(company=tenant_b.company, actor=tenant_b.owner, name="Okta")
    ScimClient(raw_b).post("/Users", entra_user("bea@beta.example", "bea@beta.example", "b1"))
    audit_record(company=tenant_b.company, action="team.renamed", actor=tenant_b.owner.user)
    Company.objects.filter(pk=tenant_a.company.pk).update(closed_at="2026-01-01T00:00:00Z")
    tenant_a.company.refresh_from_db()

    company_erase(company=tenant_a.company)

    for model in (ScimUser, ScimGroup, ScimGroupMember, ScimToken, AuditEvent):
        assert not model.objects.for_company(tenant_a.company).exists(), model
        assert model is ScimGroup or model is ScimGroupMember or \
            model.objects.for_company(tenant_b.company).exists(), model
    assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
        kind="identity_records").exists()


def test_withdrawing_consent_leaves_provisioning_and_the_admin_log_alone(tenant_a, provisioned,
                                                                         local_backend):
    from privacy.erasure import RULE_WITHDRAWN, person_erase

    _, scim_id, membership = provisioned
    lines = len(_lines_naming(tenant_a.company, EMAIL))
    result = person_erase(company=tenant_a.company, membership=membership, rule=RULE_WITHDRAWN)
    assert not {"scim_user", "audit_event"} & set(result.erased)
    assert ScimUser.objects.for_company(tenant_a.company).get(scim_id=scim_id).given_name == "Lea"
    assert len(_lines_naming(tenant_a.company, EMAIL)) == lines
