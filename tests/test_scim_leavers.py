"""A company's directory provisions everyone, then someone leaves: the leaver policy runs."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from generation.models import Candidate, GenerationJob, Headshot, Selfie
from identity.models import AuditEvent, ScimUser
from identity.scim.auth import token_create
from privacy.models import DeletionReceipt, LeaverPolicy
from teams.models import Membership, Team
from teams.services.companies import membership_remove

from .privacy_data import all_keys, person_data
from .scim import GROUP, ScimClient, entra_deactivate, entra_user, okta_user


def _stored(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def scim_a(tenant_a) -> ScimClient:
    _, raw = token_create(company=tenant_a.company, actor=tenant_a.owner, name="Entra ID")
    return ScimClient(raw)


@pytest.mark.slow
def test_a_directory_provisions_100_people_in_5_groups_and_one_leaves(tenant_a, scim_a,
                                                                       local_backend):
    company = tenant_a.company
    ids = []
    for i in range(100):
        body = entra_user(f"person{i}@alpha.example", f"person{i}@alpha.example",
                          f"ext-{i}", given=f"Person{i}", family="Example")
        response = scim_a.post("/Users", body)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    groups = []
    for g in range(5):
        response = scim_a.post("/Groups", {"schemas": [GROUP], "displayName": f"Group {g}",
                                           "externalId": f"grp-{g}", "members": []})
        assert response.status_code == 201
        groups.append(response.json()["id"])
        members = [{"value": user_id} for user_id in ids[g * 20:(g + 1) * 20]]
        assert scim_a.patch(f"/Groups/{groups[-1]}", [
            {"op": "Add", "path": "members", "value": members}]).status_code == 200

    # Everyone is invited, nobody has joined or consented, each is in their group's team.
    people = Membership.objects.for_company(company).filter(user__email__startswith="person")
    assert people.count() == 100
    assert set(people.values_list("status", flat=True)) == {Membership.Status.INVITED}
    for g in range(5):
        team = Team.objects.for_company(company).get(name=f"Group {g}")
        assert people.filter(team=team).count() == 20

    # Pages of 30 cover everyone exactly once.
    seen = []
    for start in (1, 31, 61, 91):
        page = scim_a.get(f"/Users?startIndex={start}&count=30").json()
        assert page["totalResults"] == 100
        seen += [r["id"] for r in page["Resources"]]
    assert sorted(seen) == sorted(ids)
    assert scim_a.get('/Groups?filter=displayName%20eq%20%22group%203%22').json()[
        "totalResults"] == 1

    # A patch moves person 0 to group 4 as well: their team is the group they joined last.
    scim_a.patch(f"/Groups/{groups[4]}", [{"op": "Add", "path": "members",
                                           "value": [{"value": ids[0]}]}])
    assert people.get(user__email="person0@alpha.example").team.name == "Group 4"
    scim_a.patch(f"/Users/{ids[1]}", [{"op": "Replace", "path": "title", "value": "Lead"}])
    assert people.get(user__email="person1@alpha.example").job_title == "Lead"

    # Person 7 joined, consented, uploaded selfies and got headshots; then they leave.
    leaver = people.get(user__email="person7@alpha.example")
    Membership.objects.for_company(company).filter(pk=leaver.pk).update(
        status=Membership.Status.APPROVED, joined_at=leaver.invited_at)
    leaver.refresh_from_db()
    data = person_data(leaver)
    assert all_keys(data) <= _stored(local_backend)
    response = scim_a.patch(f"/Users/{ids[7]}", entra_deactivate())
    assert response.status_code == 200 and response.json()["active"] is False

    # The leaver policy (default: headshots go too) ran, with a receipt for each object.
    assert not Membership.objects.for_company(company).filter(pk=leaver.pk).exists()
    assert not all_keys(data) & _stored(local_backend)
    for model in (Selfie, GenerationJob, Candidate, Headshot):
        assert not model.objects.for_company(company).filter(membership_id=leaver.pk).exists()
    receipts = DeletionReceipt.objects.for_company(company).filter(
        subject_user_id=leaver.user_id, rule="erasure.member_removed")
    assert {"member", "selfie", "face_embedding", "lora_weights", "candidate", "headshot",
            "job"} <= set(receipts.values_list("kind", flat=True))
    assert AuditEvent.objects.for_company(company).filter(
        action="scim.user_deactivated", target="person7@alpha.example").exists()
    # The other 99 are untouched.
    assert people.count() == 99
    assert scim_a.get("/Users?count=1").json()["totalResults"] == 100


def test_a_leaver_policy_that_keeps_headshots_keeps_only_the_headshot(tenant_a, scim_a,
                                                                       local_backend):
    company = tenant_a.company
    LeaverPolicy.objects.create(company=company, headshots=LeaverPolicy.Headshots.KEEP)
    member = tenant_a.member
    data = person_data(member)
    user_id = scim_a.post("/Users", okta_user("member@alpha.example")).json()["id"]
    assert ScimUser.objects.for_company(company).get().membership == member

    assert scim_a.delete(f"/Users/{user_id}").status_code == 204

    member.refresh_from_db()
    assert member.status == Membership.Status.LEFT and member.joined_at is None
    assert member.role == Membership.Role.MEMBER
    headshot = Headshot.objects.for_company(company).get(membership=member)
    kept = Candidate.objects.for_company(company).get(pk=headshot.candidate_id)
    assert kept.face_embedding is None  # face data goes even when the photo stays
    assert set(data.keys["approved"]) <= _stored(local_backend)
    gone = all_keys(data) - set(data.keys["approved"])
    assert not gone & _stored(local_backend)
    assert not Selfie.objects.for_company(company).filter(membership=member).exists()
    assert DeletionReceipt.objects.for_company(company).filter(
        kind="member", subject_user_id=member.user_id,
        rule="erasure.member_removed+headshot_kept").exists()
    # A leaver cannot sign in to the company any more.
    client = tenant_a.client_for(member)
    assert client.get("/c/alpha/").status_code == 404


def test_the_leaver_policy_is_set_on_the_privacy_page(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    page = client.get("/c/alpha/admin/privacy/")
    assert b"When someone leaves" in page.content
    response = client.post("/c/alpha/admin/privacy/", {"leaver_headshots": "keep"})
    assert response.status_code == 302
    assert LeaverPolicy.objects.for_company(tenant_a.company).get().headshots == "keep"
    bad = client.post("/c/alpha/admin/privacy/", {"leaver_headshots": "sell"})
    assert bad.status_code == 400
    assert LeaverPolicy.objects.for_company(tenant_a.company).get().headshots == "keep"
    member = tenant_a.client_for(tenant_a.member).post("/c/alpha/admin/privacy/",
                                                       {"leaver_headshots": "delete"})
    assert member.status_code == 403
    assert LeaverPolicy.objects.for_company(tenant_a.company).get().headshots == "keep"


def test_an_admin_removing_someone_applies_the_same_policy(tenant_a, local_backend):
    LeaverPolicy.objects.create(company=tenant_a.company, headshots="keep")
    data = person_data(tenant_a.member)
    response = tenant_a.client_for(tenant_a.admin).post(
        f"/c/alpha/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    assert set(data.keys["approved"]) <= _stored(local_backend)
    assert Membership.objects.for_company(tenant_a.company).get(
        pk=tenant_a.member.pk).status == Membership.Status.LEFT
    assert default_storage.exists(data.keys["approved"][0])


def test_a_leaver_whose_headshot_was_kept_can_be_provisioned_again(tenant_a, scim_a,
                                                                   local_backend):
    LeaverPolicy.objects.create(company=tenant_a.company, headshots="keep")
    person_data(tenant_a.member)
    user_id = scim_a.post("/Users", okta_user("member@alpha.example")).json()["id"]
    scim_a.patch(f"/Users/{user_id}", entra_deactivate())
    member = Membership.objects.for_company(tenant_a.company).get(pk=tenant_a.member.pk)
    assert member.status == Membership.Status.LEFT
    back = scim_a.patch(f"/Users/{user_id}", [{"op": "Replace", "path": "active", "value": "True"}])
    assert back.status_code == 200 and back.json()["active"] is True
    member.refresh_from_db()
    assert member.status == Membership.Status.INVITED and member.joined_at is None


def test_a_kept_leaver_removed_again_under_a_delete_policy_goes_entirely(tenant_a,
                                                                         local_backend):
    """The membership stays "left" only while the kept headshot needs it."""
    policy = LeaverPolicy.objects.create(company=tenant_a.company, headshots="keep")
    data = person_data(tenant_a.member)
    admin = tenant_a.client_for(tenant_a.admin)
    admin.post(f"/c/alpha/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    assert Membership.objects.for_company(tenant_a.company).get(
        pk=tenant_a.member.pk).status == Membership.Status.LEFT

    policy.headshots = "delete"
    policy.save()
    left = Membership.objects.for_company(tenant_a.company).get(pk=tenant_a.member.pk)
    membership_remove(company=tenant_a.company, actor=tenant_a.admin, membership=left)

    assert not Membership.objects.for_company(tenant_a.company).filter(pk=left.pk).exists()
    assert not Headshot.objects.for_company(tenant_a.company).exists()
    assert not all_keys(data) & _stored(local_backend)
