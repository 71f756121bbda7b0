"""The REST API: company-scoped keys, the tenant wall through the key, scopes, expiry and
revocation, cursor pagination with `updated_since`, headshot variants behind signed links,
invitations, jobs, throttling, and a query count independent of page size."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from delivery.api.keys import api_key_create, api_key_revoke
from delivery.models import ApiKey
from generation.models import Headshot
from teams.models import Invitation, Membership

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for, db_fingerprint


def key_for(tenant, scope: str = "read", **kwargs) -> str:
    _, raw = api_key_create(company=tenant.company, actor=tenant.owner, name="script",
                            scope=scope, **kwargs)
    return raw


def api(raw: str | None) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}") if raw else Client()


def approve(membership) -> Headshot:
    candidate = candidate_for(membership)
    headshot = Headshot.objects.create(company=membership.company, membership=membership,
                                       candidate=candidate)
    Membership.objects.for_company(membership.company).filter(pk=membership.pk).update(
        status=Membership.Status.APPROVED)
    return headshot


# --- Keys and the tenant wall ---------------------------------------------------------


def _queries(client, url: str) -> int:
    """How many queries a successful GET of ``url`` makes."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)

def test_a_key_sees_only_its_company(tenant_a, tenant_b):
    approve(tenant_a.member)
    approve(tenant_b.member)
    client = api(key_for(tenant_a))
    people = client.get("/api/v1/people/").json()["results"]
    assert {p["email"] for p in people} == {"owner@alpha.example", "admin@alpha.example",
                                            "member@alpha.example"}
    headshots = client.get("/api/v1/headshots/").json()["results"]
    assert [h["person"]["email"] for h in headshots] == ["member@alpha.example"]


@pytest.mark.parametrize("path", ["/api/v1/people/{person}/", "/api/v1/headshots/{headshot}/",
                                  "/api/v1/jobs/{job}/"])
def test_another_companys_objects_are_404(tenant_a, tenant_b, path):
    theirs = approve(tenant_b.member)
    url = path.format(person=tenant_b.member.pk, headshot=theirs.pk, job=theirs.candidate.job_id)
    ours = api(key_for(tenant_a))
    ours.get("/api/v1/people/")  # the key's last-used time is set before the snapshot
    before = db_fingerprint()
    response = ours.get(url)
    assert response.status_code == 404
    assert db_fingerprint() == before
    # The same URL with their own key works: the 404 is the wall, not a missing object.
    assert api(key_for(tenant_b)).get(url).status_code == 200


def test_an_invitation_for_another_companys_team_is_refused(tenant_a, tenant_b):
    client = api(key_for(tenant_a, scope="write"))
    client.get("/api/v1/people/")  # the key's last-used time is set before the snapshot
    before = db_fingerprint()
    response = client.post("/api/v1/invitations/", {"email": "new@alpha.example",
                                                    "team": tenant_b.team.pk},
                           content_type="application/json")
    assert response.status_code == 400 and "No such team" in response.json()["team"]
    assert db_fingerprint() == before


@pytest.mark.parametrize("header, message", [
    (None, "Authentication credentials were not provided."),
    ("Bearer lk_nothing_here", "Unknown API key."),
    ("Token abc", "Send the key as"),
])
def test_requests_without_a_valid_key_are_refused(tenant_a, header, message):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = client.get("/api/v1/people/")
    assert response.status_code == 401
    assert message in response.json()["detail"]


def test_a_revoked_key_stops_at_once(tenant_a):
    raw = key_for(tenant_a)
    assert api(raw).get("/api/v1/people/").status_code == 200
    key = ApiKey.objects.for_company(tenant_a.company).get()
    api_key_revoke(company=tenant_a.company, actor=tenant_a.admin, key=key)
    response = api(raw).get("/api/v1/people/")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_an_expired_key_is_refused(tenant_a):
    raw = key_for(tenant_a, expires_at=timezone.now() + timedelta(hours=1))
    import time_machine

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = api(raw).get("/api/v1/people/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_read_key_cannot_write_and_changes_nothing(tenant_a):
    before = db_fingerprint()
    response = api(key_for(tenant_a)).post("/api/v1/invitations/", {"email": "x@alpha.example"},
                                           content_type="application/json")
    assert response.status_code == 403 and "only read" in response.json()["detail"]
    after = db_fingerprint()
    # Only the key's own last-used time moved.
    for label in set(before) | set(after):
        if label != "delivery.ApiKey":
            assert before.get(label) == after.get(label), label


def test_the_secret_is_stored_hashed_and_last_use_is_recorded(tenant_a):
    raw = key_for(tenant_a)
    key = ApiKey.objects.for_company(tenant_a.company).get()
    assert raw not in (key.key_hash, key.prefix) and raw.startswith(f"lk_{key.prefix}_")
    assert key.last_used_at is None
    api(raw).get("/api/v1/people/")
    key.refresh_from_db()
    assert key.last_used_at is not None


# --- People ---------------------------------------------------------------------------

def test_people_filter_by_team_status_and_updated_since(tenant_a):
    other = MembershipFactory(company=tenant_a.company, user=UserFactory(
        email="solo@alpha.example"), team=None)
    client = api(key_for(tenant_a))
    in_team = client.get(f"/api/v1/people/?team={tenant_a.team.pk}").json()["results"]
    assert other.pk not in {p["id"] for p in in_team} and len(in_team) == 3
    approve(tenant_a.member)
    approved = client.get("/api/v1/people/?status=approved").json()["results"]
    assert [p["id"] for p in approved] == [tenant_a.member.pk]
    assert approved[0]["headshot"]["id"] is not None

    # updated_since sees a change made with queryset.update() (a database trigger keeps
    # updated_at current).
    since = timezone.now()
    Membership.objects.for_company(tenant_a.company).filter(pk=other.pk).update(
        job_title="Designer")
    changed = client.get("/api/v1/people/", {"updated_since": since.isoformat()}).json()
    assert [p["id"] for p in changed["results"]] == [other.pk]
    bad = client.get("/api/v1/people/?updated_since=yesterday")
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["updated_since"]


def test_people_pages_with_a_cursor_and_the_query_count_does_not_grow(tenant_a):
    for n in range(12):
        person = MembershipFactory(company=tenant_a.company,
                                   user=UserFactory(email=f"p{n}@alpha.example"),
                                   team=tenant_a.team)
        if n % 3 == 0:
            approve(person)
    client = api(key_for(tenant_a))
    client.get("/api/v1/people/?page_size=2")  # warm the key's last-used time

    assert _queries(client, "/api/v1/people/?page_size=2") == _queries(
        client, "/api/v1/people/?page_size=15")
    seen, url = [], "/api/v1/people/?page_size=4"
    while url:
        page = client.get(url).json()
        seen += [p["id"] for p in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 15


# --- Headshots -------------------------------------------------------------------------

@pytest.mark.parametrize("size, shape, fmt, pil", [
    (256, "square", "png", "PNG"), (512, "look", "webp", "WEBP"), (1024, "look", "jpeg", "JPEG"),
])
def test_headshot_variants_through_short_lived_links(tenant_a, size, shape, fmt, pil):
    headshot = approve(tenant_a.member)
    client = api(key_for(tenant_a))
    body = client.get(f"/api/v1/headshots/{headshot.pk}/",
                      {"size": size, "shape": shape, "image_format": fmt}).json()
    link = body["url"].split("://", 1)[1].split("/", 1)[1]
    image = Image.open(io.BytesIO(Client().get("/" + link).content))  # no key needed
    assert image.format == pil
    assert max(image.size) == min(size, max(body["width"], body["height"]))
    if shape == "square":
        assert image.width == image.height
    else:
        assert abs(image.width / image.height - body["width"] / body["height"]) < 0.02

    import time_machine

    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        assert Client().get("/" + link).status_code == 404
    assert Client().get("/" + link.rstrip("/")[:-3] + "abc/").status_code == 404  # forged


def test_a_link_dies_with_the_headshot(tenant_a):
    headshot = approve(tenant_a.member)
    url = api(key_for(tenant_a)).get(f"/api/v1/headshots/{headshot.pk}/").json()["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert Client().get(path).status_code == 200
    Headshot.objects.for_company(tenant_a.company).filter(pk=headshot.pk).delete()
    assert Client().get(path).status_code == 404


def test_a_bad_variant_is_a_clear_400(tenant_a):
    approve(tenant_a.member)
    response = api(key_for(tenant_a)).get("/api/v1/headshots/?size=300")
    assert response.status_code == 400 and "size must be one of" in response.json()["variant"]


# --- Invitations and jobs ---------------------------------------------------------------

def test_a_write_key_invites_someone(tenant_a, django_capture_on_commit_callbacks):
    client = api(key_for(tenant_a, scope="write"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/invitations/", {
            "email": "newhire@alpha.example", "full_name": "New Hire", "team": tenant_a.team.pk,
            "job_title": "Engineer"}, content_type="application/json")
    assert response.status_code == 201, response.content
    invitation = Invitation.objects.for_company(tenant_a.company).get(pk=response.json()["id"])
    assert invitation.email == "newhire@alpha.example"
    assert invitation.membership.team_id == tenant_a.team.pk
    assert any("newhire@alpha.example" in m.to for m in mail.outbox)
    bad = client.post("/api/v1/invitations/", {"email": "not an address"},
                      content_type="application/json")
    assert bad.status_code == 400 and "email" in bad.json()


def test_jobs_report_their_status(tenant_a):
    candidate = candidate_for(tenant_a.member)
    client = api(key_for(tenant_a))
    jobs = client.get(f"/api/v1/jobs/?person={tenant_a.member.pk}").json()["results"]
    assert [(j["id"], j["status"]) for j in jobs] == [(candidate.job_id, "ready")]
    assert client.get("/api/v1/jobs/?status=nonsense").status_code == 400


# --- Throttling, schema, docs ---------------------------------------------------------

def test_each_key_has_its_own_rate_limit(tenant_a, monkeypatch):
    from delivery.api.base import PerKeyThrottle

    # The rate is read per request from the throttle; monkeypatch puts it back afterwards
    # (DRF caches its settings, so changing Django's settings here would leak to later tests).
    monkeypatch.setattr(PerKeyThrottle, "get_rate", lambda self: "3/min")
    first, second = api(key_for(tenant_a)), api(key_for(tenant_a))
    codes = [first.get("/api/v1/people/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert second.get("/api/v1/people/").status_code == 200


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/people/", "/api/v1/headshots/", "/api/v1/invitations/",
            "/api/v1/jobs/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_headshot_pages_cost_the_same_queries_whatever_their_size(tenant_a):
    for n in range(8):
        approve(MembershipFactory(company=tenant_a.company, team=tenant_a.team,
                                  user=UserFactory(email=f"h{n}@alpha.example")))
    client = api(key_for(tenant_a))
    client.get("/api/v1/headshots/?page_size=1")  # warm the key's last-used time

    assert _queries(client, "/api/v1/headshots/?page_size=1") == _queries(
        client, "/api/v1/headshots/?page_size=8")


def test_each_list_row_is_the_detail_views_json(tenant_a):
    """The lists write their rows from plain values (delivery/api/serializers.py says why);
    each row must be exactly what the serializer gives the same object in its detail view:
    with and without a team, a headshot that may leave and one that may not, a job with
    and without its times."""
    from django.core import signing

    approve(tenant_a.member)
    loner = MembershipFactory(company=tenant_a.company, team=None,
                              user=UserFactory(email="loner@alpha.example", full_name=""))
    hidden = candidate_for(loner, visible=False)
    Headshot.objects.create(company=tenant_a.company, membership=loner, candidate=hidden)
    approve(MembershipFactory(company=tenant_a.company, team=None,
                              user=UserFactory(email="solo@alpha.example")))
    client = api(key_for(tenant_a))
    seen = set()
    for kind in ("people", "headshots", "jobs"):
        rows = client.get(f"/api/v1/{kind}/?page_size=200&size=512&shape=square").json()
        for row in rows["results"]:
            detail = client.get(f"/api/v1/{kind}/{row['id']}/?size=512&shape=square").json()
            if kind == "headshots":  # the links expire from now: the same claims, not text
                url, detail_url = row.pop("url"), detail.pop("url")
                assert url.rsplit("/", 2)[0] == detail_url.rsplit("/", 2)[0]
                claims = [signing.loads(u.rstrip("/").rsplit("/", 1)[1],
                                        salt="likeness.headshot-variant") for u in (url, detail_url)]
                assert abs(claims[0].pop("e") - claims[1].pop("e")) <= 2
                assert claims[0] == claims[1]
            assert row == detail
            seen.add((kind, row.get("team") is None, bool(row.get("headshot"))))
    assert {("people", True, False), ("people", True, True), ("people", False, True),
            ("headshots", True, False), ("jobs", True, False)} <= seen
