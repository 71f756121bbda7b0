"""SCIM 2.0 provisioning as Entra ID and Okta do it: people and groups in, leavers out."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core import mail

from identity.models import AuditEvent, ScimGroup, ScimToken, ScimUser
from identity.scim.auth import token_create, token_revoke
from privacy.models import ConsentRecord
from teams.models import Invitation, Membership, Team

from .helpers import db_fingerprint
from .scim import (
    ENTERPRISE,
    GROUP,
    ScimClient,
    entra_deactivate,
    entra_user,
    okta_deactivate,
    okta_user,
)

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim_a(tenant_a) -> ScimClient:
    _, raw = token_create(company=tenant_a.company, actor=tenant_a.admin, name="Okta")
    return ScimClient(raw)


@pytest.fixture
def scim_b(tenant_b) -> ScimClient:
    _, raw = token_create(company=tenant_b.company, actor=tenant_b.owner, name="Entra ID")
    return ScimClient(raw)


def _error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type:
        assert body["scimType"] == scim_type
    return body


# --- Authentication and discovery -------------------------------------------------------------


def test_discovery_documents(scim_a):
    config = scim_a.get("/ServiceProviderConfig")
    assert config.status_code == 200
    doc = config.json()
    assert doc["patch"]["supported"] and doc["filter"]["supported"]
    assert not doc["bulk"]["supported"]
    assert doc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = {r["id"] for r in scim_a.get("/ResourceTypes").json()["Resources"]}
    assert types == {"User", "Group"}
    schemas = {r["id"] for r in scim_a.get("/Schemas").json()["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", GROUP} <= schemas
    assert scim_a.get("/Schemas/urn:nothing").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer ", "Bearer scim_nope", "Basic dXNlcjpwYXNz",
                                    "Bearer lk_abc_def"])
def test_a_request_without_a_valid_token_is_401(db, header):
    client = ScimClient("x")
    response = client.client.get("/scim/v2/Users", HTTP_AUTHORIZATION=header)
    _error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_at_once(tenant_a, scim_a):
    assert scim_a.get("/Users").status_code == 200
    row = ScimToken.objects.for_company(tenant_a.company).get()
    token_revoke(company=tenant_a.company, actor=tenant_a.admin, token=row)
    _error(scim_a.get("/Users"), 401)


def test_the_token_is_stored_hashed_and_the_session_cookie_is_not_needed(tenant_a, scim_a):
    row = ScimToken.objects.for_company(tenant_a.company).get()
    assert scim_a.token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    # No CSRF token, no session: a bearer token is the whole credential.
    assert scim_a.post("/Users", okta_user("ada@alpha.example")).status_code == 201


# --- Users ------------------------------------------------------------------------------------


def test_okta_creates_a_user_who_is_invited_and_not_consented(
        tenant_a, scim_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = scim_a.post("/Users", okta_user("ada@alpha.example", external_id="00u1"))
    assert response.status_code == 201
    body = response.json()
    assert body["userName"] == "ada@alpha.example" and body["active"] is True
    assert body["externalId"] == "00u1"
    assert response["Location"].endswith(f"/scim/v2/Users/{body['id']}")
    scim_user = ScimUser.objects.for_company(tenant_a.company).get(scim_id=body["id"])
    membership = scim_user.membership
    assert membership.status == Membership.Status.INVITED and membership.joined_at is None
    invitation = Invitation.objects.for_company(tenant_a.company).get(membership=membership)
    assert invitation.source == Invitation.Source.SCIM
    assert [m.to for m in mail.outbox] == [["ada@alpha.example"]]
    # Consent is the person's own act: provisioning never records one.
    assert not ConsentRecord.objects.for_company(tenant_a.company).filter(
        subject_email="ada@alpha.example").exists()
    assert scim_a.get(f"/Users/{body['id']}").json()["emails"][0]["value"] == "ada@alpha.example"


def test_entra_creates_a_user_with_its_enterprise_extension(tenant_a, scim_a):
    response = scim_a.post("/Users", entra_user("grace@alpha.example", "grace@alpha.example",
                                                "8f3c-entra"))
    assert response.status_code == 201, response.content
    membership = ScimUser.objects.for_company(tenant_a.company).get().membership
    assert membership.job_title == "Engineer"
    assert membership.user.full_name == "Grace Hopper"


def test_invitations_can_wait_for_sso(tenant_a, scim_a, django_capture_on_commit_callbacks):
    from identity.models import SecuritySettings

    SecuritySettings.objects.create(company=tenant_a.company, scim_send_invitations=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert scim_a.post("/Users", okta_user("quiet@alpha.example")).status_code == 201
    assert mail.outbox == []
    assert Invitation.objects.for_company(tenant_a.company).get(
        email="quiet@alpha.example").sent_at is None


def test_a_duplicate_user_is_409_and_changes_nothing(scim_a):
    assert scim_a.post("/Users", okta_user("ada@alpha.example", external_id="1")).status_code == 201
    before = db_fingerprint()
    _error(scim_a.post("/Users", okta_user("ADA@alpha.example")), 409, "uniqueness")
    _error(scim_a.post("/Users", okta_user("other@alpha.example", external_id="1")), 409,
           "uniqueness")
    same_email = okta_user("ada.l@alpha.example")
    same_email["emails"] = [{"primary": True, "value": "ada@alpha.example", "type": "work"}]
    _error(scim_a.post("/Users", same_email), 409, "uniqueness")
    assert db_fingerprint() == before


def test_an_existing_member_is_linked_not_invited_again(
        tenant_a, scim_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = scim_a.post("/Users", okta_user("member@alpha.example"))
    assert response.status_code == 201
    assert ScimUser.objects.for_company(tenant_a.company).get().membership == tenant_a.member
    assert mail.outbox == []


def test_filters_and_pagination(scim_a):
    for i in range(7):
        scim_a.post("/Users", okta_user(f"p{i}@alpha.example", given=f"P{i}", external_id=f"x{i}"))
    found = scim_a.get('/Users?filter=userName%20eq%20%22P3@ALPHA.example%22').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == "p3@alpha.example"
    by_external = scim_a.get('/Users?filter=externalId%20eq%20%22x5%22').json()
    assert [r["userName"] for r in by_external["Resources"]] == ["p5@alpha.example"]
    by_email = scim_a.get("/Users?filter=" + quote('emails[type eq "work"].value eq "p1@alpha.example"'))
    assert by_email.json()["totalResults"] == 1
    none = scim_a.get('/Users?filter=userName%20eq%20%22nobody@alpha.example%22').json()
    assert none["totalResults"] == 0 and none["Resources"] == []
    page = scim_a.get("/Users?startIndex=3&count=2").json()
    assert page["totalResults"] == 7 and page["startIndex"] == 3 and page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["p2@alpha.example", "p3@alpha.example"]
    # RFC 7644 §3.4.2.4: below 1 means 1, a negative count means none.
    assert scim_a.get("/Users?startIndex=0&count=1").json()["startIndex"] == 1
    assert scim_a.get("/Users?count=-5").json()["Resources"] == []
    assert scim_a.get("/Users?startIndex=100").json()["Resources"] == []


@pytest.mark.parametrize("query", ['userName eq', 'nosuch eq "x"', '(((', 'userName zz "x"',
                                   'meta.lastModified gt "2011-05-13T04:42:34Z"',
                                   'id eq "not-a-uuid"', "a" * 2000])
def test_a_bad_filter_is_400(scim_a, query):
    response = scim_a.get(f"/Users?filter={quote(query)}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        _error(response, 400)
    else:  # an id that cannot exist matches nothing
        assert response.json()["totalResults"] == 0


def test_entra_patches_attributes_in_its_own_way(tenant_a, scim_a):
    user_id = scim_a.post("/Users", entra_user("g@alpha.example", "g@alpha.example", "e1")).json()["id"]
    response = scim_a.patch(f"/Users/{user_id}", [
        {"op": "Replace", "path": "displayName", "value": "Grace B. Hopper"},
        {"op": "Replace", "path": "name.givenName", "value": "Grace B."},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "grace@alpha.example"},
        {"op": "Replace", "path": "title", "value": "Rear Admiral"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Navy"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
    ])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["displayName"] == "Grace B. Hopper" and body["title"] == "Rear Admiral"
    assert body["emails"][0]["value"] == "grace@alpha.example"
    membership = ScimUser.objects.for_company(tenant_a.company).get().membership
    membership.refresh_from_db()
    assert membership.user.email == "grace@alpha.example"
    assert membership.job_title == "Rear Admiral"


@pytest.mark.parametrize("operations", [entra_deactivate(), okta_deactivate(),
                                        [{"op": "replace", "path": "active", "value": False}]])
def test_deactivation_makes_a_leaver(tenant_a, scim_a, operations):
    body = okta_user("member@alpha.example")
    user_id = scim_a.post("/Users", body).json()["id"]
    response = scim_a.patch(f"/Users/{user_id}", operations)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert not Membership.objects.for_company(tenant_a.company).filter(
        pk=tenant_a.member.pk).exists()
    # Still readable, so the directory can reactivate them.
    assert scim_a.get(f"/Users/{user_id}").json()["active"] is False
    event = AuditEvent.objects.for_company(tenant_a.company).get(action="scim.user_deactivated")
    assert event.actor_label.startswith("SCIM token Okta") and event.actor is None


def test_reactivation_invites_again(tenant_a, scim_a, django_capture_on_commit_callbacks):
    user_id = scim_a.post("/Users", okta_user("ada@alpha.example")).json()["id"]
    scim_a.patch(f"/Users/{user_id}", okta_deactivate())
    assert not Membership.objects.for_company(tenant_a.company).filter(
        user__email="ada@alpha.example").exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = scim_a.patch(f"/Users/{user_id}", [{"op": "replace", "path": "active",
                                                       "value": True}])
    assert response.json()["active"] is True
    membership = Membership.objects.for_company(tenant_a.company).get(
        user__email="ada@alpha.example")
    assert membership.status == Membership.Status.INVITED
    assert len(mail.outbox) == 1


def test_the_owner_is_never_removed_by_provisioning(tenant_a, scim_a):
    user_id = scim_a.post("/Users", okta_user("owner@alpha.example")).json()["id"]
    assert scim_a.patch(f"/Users/{user_id}", entra_deactivate()).status_code == 200
    assert Membership.objects.for_company(tenant_a.company).get(
        pk=tenant_a.owner.pk).role == Membership.Role.OWNER
    event = AuditEvent.objects.for_company(tenant_a.company).get(action="scim.user_deactivated")
    assert event.details["owner_kept"] is True


def test_put_replaces_the_user(tenant_a, scim_a):
    user_id = scim_a.post("/Users", okta_user("ada@alpha.example", external_id="o1")).json()["id"]
    body = okta_user("ada@alpha.example", given="Augusta", family="King", external_id="o1")
    response = scim_a.put(f"/Users/{user_id}", body)
    assert response.status_code == 200
    assert response.json()["name"]["givenName"] == "Augusta"
    body["active"] = False
    assert scim_a.put(f"/Users/{user_id}", body).json()["active"] is False
    assert not Membership.objects.for_company(tenant_a.company).filter(
        user__email="ada@alpha.example").exists()


def test_delete_runs_the_leaver_policy_and_the_user_is_gone(tenant_a, scim_a):
    user_id = scim_a.post("/Users", okta_user("member@alpha.example")).json()["id"]
    response = scim_a.delete(f"/Users/{user_id}")
    assert response.status_code == 204
    _error(scim_a.get(f"/Users/{user_id}"), 404)
    _error(scim_a.delete(f"/Users/{user_id}"), 404)
    assert not Membership.objects.for_company(tenant_a.company).filter(
        pk=tenant_a.member.pk).exists()


# --- Groups -----------------------------------------------------------------------------------


def _users(scim, n: int, prefix: str = "u") -> list[str]:
    return [scim.post("/Users", okta_user(f"{prefix}{i}@alpha.example")).json()["id"]
            for i in range(n)]


def test_groups_become_teams_and_entra_moves_members(tenant_a, scim_a):
    ids = _users(scim_a, 3)
    response = scim_a.post("/Groups", {"schemas": [GROUP], "displayName": "Design",
                                       "externalId": "g-1", "members": []})
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]
    team = Team.objects.for_company(tenant_a.company).get(name="Design")
    # Entra ID adds and removes members with capitalised ops and value lists.
    add = scim_a.patch(f"/Groups/{group_id}", [
        {"op": "Add", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}])
    assert add.status_code == 200, add.content
    members = {m.user.email: m.team_id for m in
               Membership.objects.for_company(tenant_a.company).select_related("user")}
    assert members["u0@alpha.example"] == members["u1@alpha.example"] == team.pk
    assert members["u2@alpha.example"] is None
    scim_a.patch(f"/Groups/{group_id}", [{"op": "Remove", "path": "members",
                                          "value": [{"value": ids[0]}]}])
    # Okta removes one member by a value filter.
    scim_a.patch(f"/Groups/{group_id}", [{"op": "remove",
                                          "path": f'members[value eq "{ids[1]}"]'}])
    assert set(Membership.objects.for_company(tenant_a.company).filter(team=team)
               .values_list("user__email", flat=True)) == set()
    # Okta renames with a no-path replace; the team follows.
    scim_a.patch(f"/Groups/{group_id}", [{"op": "replace", "value": {"id": group_id,
                                                                     "displayName": "Brand"}}])
    team.refresh_from_db()
    assert team.name == "Brand"
    found = scim_a.get('/Groups?filter=displayName%20eq%20%22brand%22').json()
    assert [g["id"] for g in found["Resources"]] == [group_id]
    excluded = scim_a.get(f"/Groups/{group_id}?excludedAttributes=members").json()
    assert "members" not in excluded


def test_a_member_of_another_company_cannot_join_a_group(scim_a, scim_b):
    theirs = scim_b.post("/Users", okta_user("x@bravo.example")).json()["id"]
    group_id = scim_a.post("/Groups", {"schemas": [GROUP], "displayName": "Ops"}).json()["id"]
    before = db_fingerprint()
    _error(scim_a.patch(f"/Groups/{group_id}", [{"op": "Add", "path": "members",
                                                 "value": [{"value": theirs}]}]), 400)
    _error(scim_a.patch(f"/Groups/{group_id}", [{"op": "Add", "path": "members",
                                                 "value": [{"value": "not-a-uuid"}]}]), 400)
    assert db_fingerprint() == before


def test_deleting_a_group_keeps_the_team_and_frees_its_members(tenant_a, scim_a):
    ids = _users(scim_a, 2)
    group_id = scim_a.post("/Groups", {"schemas": [GROUP], "displayName": "Temp",
                                       "members": [{"value": i} for i in ids]}).json()["id"]
    assert Membership.objects.for_company(tenant_a.company).filter(team__name="Temp").count() == 2
    assert scim_a.delete(f"/Groups/{group_id}").status_code == 204
    assert Team.objects.for_company(tenant_a.company).filter(name="Temp").exists()
    assert not Membership.objects.for_company(tenant_a.company).filter(team__name="Temp").exists()
    assert not ScimGroup.objects.for_company(tenant_a.company).exists()


# --- The tenant wall --------------------------------------------------------------------------


def test_a_token_of_company_a_cannot_read_or_change_company_b(scim_a, scim_b, tenant_b):
    user_id = scim_b.post("/Users", okta_user("member@bravo.example")).json()["id"]
    group_id = scim_b.post("/Groups", {"schemas": [GROUP], "displayName": "B-team",
                                       "members": [{"value": user_id}]}).json()["id"]
    assert scim_a.get("/Users").status_code == 200  # the token's own last-used time is set
    before = db_fingerprint()
    _error(scim_a.get(f"/Users/{user_id}"), 404)
    _error(scim_a.get(f"/Groups/{group_id}"), 404)
    _error(scim_a.put(f"/Users/{user_id}", okta_user("member@bravo.example", given="X")), 404)
    _error(scim_a.patch(f"/Users/{user_id}", okta_deactivate()), 404)
    _error(scim_a.patch(f"/Groups/{group_id}", [{"op": "remove", "path": "members"}]), 404)
    _error(scim_a.delete(f"/Users/{user_id}"), 404)
    _error(scim_a.delete(f"/Groups/{group_id}"), 404)
    listing = scim_a.get("/Users").json()
    assert listing["totalResults"] == 0
    assert scim_a.get('/Users?filter=userName%20eq%20%22member@bravo.example%22').json()[
        "totalResults"] == 0
    assert scim_a.get("/Groups").json()["totalResults"] == 0
    assert db_fingerprint() == before
    assert Membership.objects.for_company(tenant_b.company).filter(
        user__email="member@bravo.example").exists()


# --- Nothing a client sends is a 500 ----------------------------------------------------------

HOSTILE = [
    ("POST", "/Users", b"not json"),
    ("POST", "/Users", b"[1, 2]"),
    ("POST", "/Users", b"\xff\xfe"),
    ("POST", "/Users", b"{}"),
    ("POST", "/Users", json.dumps({"userName": 5}).encode()),
    ("POST", "/Users", json.dumps({"userName": "x@alpha.example", "active": "maybe"}).encode()),
    ("POST", "/Users", json.dumps({"userName": "no-email"}).encode()),
    ("POST", "/Users", json.dumps({"userName": "a@alpha.example", "name": "str"}).encode()),
    ("POST", "/Users", json.dumps({"userName": "a@alpha.example", "emails": "x"}).encode()),
    ("POST", "/Users", json.dumps({"userName": "a" * 300 + "@alpha.example"}).encode()),
    ("POST", "/Groups", json.dumps({"displayName": ""}).encode()),
    ("POST", "/Groups", json.dumps({"displayName": "G", "members": "all"}).encode()),
    ("POST", "/Groups", json.dumps({"displayName": "G", "members": [{"value": 3}]}).encode()),
    ("GET", "/Users?startIndex=abc", b""),
    ("GET", "/Users?count=1e9", b""),
    ("GET", "/Users/not-a-uuid", b""),
    ("GET", "/Users/00000000-0000-0000-0000-000000000000", b""),
    ("PUT", "/Users", b"{}"),
    ("DELETE", "/Users", b""),
    ("GET", "/Me", b""),
    ("POST", "/Bulk", b"{}"),
    ("POST", "/Users/.search", b"{}"),
    ("POST", "/Users/.search", json.dumps({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "(("}).encode()),
]

HOSTILE_PATCHES = [
    None, [], "x", [1], [{"op": "move", "path": "active"}], [{"op": "remove"}],
    [{"op": "replace", "value": "x"}], [{"op": "replace", "path": "active", "value": "yes"}],
    [{"op": "replace", "path": "active", "value": None}],
    [{"op": "remove", "path": "userName"}], [{"op": "replace", "path": "a[[b", "value": 1}],
    [{"op": "replace", "path": 'emails[type xx "w"].value', "value": "x"}],
    [{"op": "replace", "path": "emails", "value": "x"}],
    [{"op": "replace", "path": "name", "value": 3}],
    [{"op": "replace", "path": "userName", "value": {"a": 1}}],
    [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "not an email"}],
    [{"op": "replace", "path": "", "value": {"active": "False", "userName": ""}}],
]


@pytest.mark.parametrize(("method", "path", "raw"), HOSTILE)
def test_hostile_requests_get_scim_errors_not_500s(scim_a, method, path, raw):
    response = scim_a.request(method, path, raw=raw or None)
    assert response.status_code < 500 or response.status_code == 501, response.content
    if response.status_code >= 400:
        _error(response, response.status_code)


@pytest.mark.parametrize("operations", HOSTILE_PATCHES)
def test_hostile_patches_get_4xx_and_change_nothing(scim_a, operations):
    user_id = scim_a.post("/Users", okta_user("ada@alpha.example")).json()["id"]
    before = db_fingerprint()
    response = scim_a.request("PATCH", f"/Users/{user_id}",
                              {"schemas": [], "Operations": operations})
    _error(response, 400)
    assert db_fingerprint() == before
