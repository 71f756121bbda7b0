"""A candidate that failed a gate never leaves, at any exit: pages and their JSON, the image
URLs, the pick, the approval, the API, the ZIP and CSV exports, the signed image links,
directory sync and outbound webhooks. Admins see it only in the audit view, with reasons.

The failing candidate is given the worst state it could be in: marked ``visible`` (as a
candidate stored before the gates, or shown by a bug, would be) and even approved as the
person's headshot. Every exit must still refuse it, because each one applies the gate rule
(``generation.selectors.MAY_LEAVE``), not ``visible`` alone.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.urls import reverse
from django.utils.html import escape

from core.errors import ServiceError
from delivery.directory.services import directory_sync_all
from delivery.directory.sync import directory_sync_run
from delivery.exports.services import headshots_zip
from delivery.models import DirectoryConnection, DirectorySync, WebhookDelivery
from delivery.variants import Variant, variant_url
from delivery.webhooks.services import webhook_endpoint_create
from generation.gates import codes
from generation.models import Candidate, Headshot
from generation.services.review import GATE_REFUSAL, candidate_favourite_set, headshot_approve
from teams.models import Membership

from .helpers import candidate_for, db_fingerprint
from .test_api import api, key_for

REASONS = codes.candidate_reasons([codes.SECOND_PERSON, codes.NOT_THE_PERSON])


@pytest.fixture
def failing(tenant_a) -> Candidate:
    """A member's candidate that failed the gates, yet visible and approved."""
    candidate = candidate_for(tenant_a.member)
    Candidate.objects.for_company(tenant_a.company).filter(pk=candidate.pk).update(
        gates_passed=False, gate_reasons=REASONS, conformance={"flags": [codes.SECOND_PERSON]})
    candidate.refresh_from_db()
    Headshot.objects.create(company=tenant_a.company, membership=tenant_a.member,
                            candidate=candidate)
    Membership.objects.for_company(tenant_a.company).filter(pk=tenant_a.member.pk).update(
        status=Membership.Status.APPROVED)
    return candidate


def _url(name: str, **kwargs) -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": "alpha", **kwargs})


def test_pages_and_image_urls_never_show_it(tenant_a, failing):
    employee, admin = tenant_a.client_for(tenant_a.member), tenant_a.client_for(tenant_a.admin)
    ref = f"/candidates/{failing.pk}/"
    for client, name in ((employee, "headshots"), (admin, "review"), (admin, "uniformity")):
        page = client.get(_url(name))
        assert page.status_code == 200 and ref not in page.content.decode(), name
    progress = employee.get(_url("headshots_progress")).json()
    assert progress["candidates"] == []
    for client in (employee, admin):
        for name in ("candidate_image", "candidate_thumb"):
            assert client.get(_url(name, pk=failing.pk)).status_code == 404


def test_a_direct_pick_or_approval_is_refused_with_a_message_and_changes_nothing(
        tenant_a, failing, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.owner,
                            url="https://93.184.216.34/hook", events=["headshot.approved"])
    DirectoryConnection.objects.create(company=tenant_a.company, provider="slack", config={})
    employee, admin = tenant_a.client_for(tenant_a.member), tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pick = employee.post(_url("candidate_favourite", pk=failing.pk), {"favourite": "1"})
        approval = admin.post(_url("review_decide", pk=failing.pk), {"action": "approve"})
    for response in (pick, approval):
        assert response.status_code == 409
        assert response.content.decode() == GATE_REFUSAL
    assert db_fingerprint() == before  # no favourite, decision, webhook delivery or sync
    assert callbacks == []  # nothing queued to run after commit either
    with pytest.raises(ServiceError, match="did not pass the checks"):
        candidate_favourite_set(company=tenant_a.company, actor=tenant_a.member,
                                candidate=failing, favourite=True)
    with pytest.raises(ServiceError, match="did not pass the checks"):
        headshot_approve(company=tenant_a.company, actor=tenant_a.admin, candidate=failing)
    assert not WebhookDelivery.objects.for_company(tenant_a.company).exists()
    assert not DirectorySync.objects.for_company(tenant_a.company).exists()


def test_the_api_never_returns_it(tenant_a, failing):
    client = api(key_for(tenant_a))
    assert client.get("/api/v1/headshots/").json()["results"] == []
    headshot = Headshot.objects.for_company(tenant_a.company).get()
    assert client.get(f"/api/v1/headshots/{headshot.pk}/").status_code == 404
    person = client.get(f"/api/v1/people/{tenant_a.member.pk}/").json()
    assert person["headshot"] is None
    people = client.get("/api/v1/people/").json()["results"]
    assert all(p["headshot"] is None for p in people)


def test_exports_and_signed_links_never_carry_it(tenant_a, failing):
    admin = tenant_a.client_for(tenant_a.admin)
    response = admin.post(_url("exports"), {"size": "256", "shape": "look", "format": "jpeg",
                                            "pattern": "{first}-{last}"})
    assert response.status_code == 400  # "No approved headshots to export yet."
    assert "No approved headshots" in response.content.decode()
    with pytest.raises(ServiceError):
        headshots_zip(company=tenant_a.company, team=None, variant=Variant(),
                      pattern="{first}")
    rows = list(csv.DictReader(io.StringIO(b"".join(
        admin.get(_url("people_csv")).streaming_content).decode())))
    member = next(r for r in rows if r["email"] == tenant_a.member.user.email)
    assert member["headshot_url"] == "" and member["headshot_square_512_url"] == ""
    # A link signed before the gate hid it (or forged from its ids) no longer serves it.
    headshot = Headshot.objects.for_company(tenant_a.company).get()
    assert admin.get(variant_url(headshot, Variant(), absolute=False)).status_code == 404


def test_a_passing_headshot_still_leaves_beside_it(tenant_a, failing):
    """The rule hides the failing photo only: a colleague's good headshot is exported."""
    colleague = tenant_a.admin
    good = candidate_for(colleague, seed=9)
    Headshot.objects.create(company=tenant_a.company, membership=colleague, candidate=good)
    archive = zipfile.ZipFile(headshots_zip(company=tenant_a.company, team=None,
                                            variant=Variant(size=256), pattern="{id}"))
    assert archive.namelist() == [f"{colleague.pk}.jpg"]
    results = api(key_for(tenant_a)).get("/api/v1/headshots/").json()["results"]
    assert [r["person"]["id"] for r in results] == [colleague.pk]


def test_directory_sync_never_sends_it(tenant_a, failing):
    DirectoryConnection.objects.create(company=tenant_a.company, provider="slack", config={})
    assert directory_sync_all(company=tenant_a.company, actor=tenant_a.admin) == 0
    connection = DirectoryConnection.objects.for_company(tenant_a.company).get()
    sync = DirectorySync.objects.create(company=tenant_a.company, connection=connection,
                                        membership=tenant_a.member)
    assert directory_sync_run(sync_id=sync.pk) == "failed"  # before any request is made
    sync.refresh_from_db()
    assert "no approved headshot" in sync.last_error


def test_admins_see_it_with_its_reasons_only_in_the_audit_view(tenant_a, tenant_b, failing):
    admin = tenant_a.client_for(tenant_a.admin)
    page = admin.get(_url("audit")).content.decode()
    for reason in REASONS:
        assert escape(reason["message"]) in page and reason["code"] in page
    assert admin.get(_url("audit_thumb", pk=failing.pk)).status_code == 200
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    assert member.get(_url("audit")).status_code == 403
    assert member.get(_url("audit_thumb", pk=failing.pk)).status_code == 403
    assert outsider.get(_url("audit")).status_code == 404
    assert db_fingerprint() == before
