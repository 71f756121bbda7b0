"""Data-subject requests (a copy of my data, erasure), the privacy admin page (retention
policy published in the consent notice, the request log) and closing a company."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Candidate, GenerationJob, Headshot, Selfie
from privacy.erasure import RULE_COMPANY_CLOSED, RULE_REQUEST
from privacy.forms import days_field_name, days_from_hours
from privacy.models import (
    ConsentNotice,
    ConsentRecord,
    DataSubjectRequest,
    DeletionReceipt,
    RetentionPolicy,
)
from privacy.retention import DEFAULT_POLICY, FIELDS, HARD_CEILING_HOURS, policy_as_dict
from privacy.services import consent_chain_verify, notice_current
from teams.models import Company, Membership, User

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for, db_fingerprint, selfie_for

Kind = DataSubjectRequest.Kind
Status = DataSubjectRequest.Status
EMBEDDING = [0.123456789] * 128
EMBEDDING_DIGITS = "0.123456789"

EXPORT_URL = "/c/alpha/privacy/my-data/export/"
ERASE_URL = "/c/alpha/privacy/my-data/erase/"
MY_DATA_URL = "/c/alpha/privacy/my-data/"
ADMIN_URL = "/c/alpha/admin/privacy/"
CLOSE_URL = "/c/alpha/admin/close/"


# --- helpers ----------------------------------------------------------------------------

def _download_url(pk: int, slug: str = "alpha") -> str:
    return f"/c/{slug}/privacy/exports/{pk}/download/"


def _behalf_url(pk: int, kind: str, slug: str = "alpha") -> str:
    return f"/c/{slug}/admin/people/{pk}/data/{kind}/"


def _everything(membership):
    """A selfie and a generated photo (both with face embeddings), and the approved
    headshot made from that photo."""
    company = membership.company
    selfie = selfie_for(membership)
    Selfie.objects.for_company(company).filter(pk=selfie.pk).update(face_embedding=EMBEDDING)
    candidate = candidate_for(membership)
    Candidate.objects.for_company(company).filter(pk=candidate.pk).update(
        face_embedding=EMBEDDING, likeness=0.91)
    headshot = Headshot.objects.create(company=company, membership=membership,
                                       candidate=candidate)
    selfie.refresh_from_db()
    candidate.refresh_from_db()
    return selfie, candidate, headshot


def _read(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _keys_in(value) -> set[str]:
    """Every dict key anywhere in a decoded JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys_in(v)}
    return set()


def _requests(company, **filters):
    return DataSubjectRequest.objects.for_company(company).filter(**filters)


def _days(value) -> str:
    """What an admin types for a period kept as ``value`` hours (the form asks in days)."""
    if value is None:
        return ""
    if not isinstance(value, int):
        return str(value)  # "", "a week": typed as is
    return str(days_from_hours(value)) if value >= 0 else str(value)


def _policy_post(**overrides) -> dict[str, str]:
    """The privacy page's form, in days, from values in the policy's hours."""
    values = {**policy_as_dict(DEFAULT_POLICY), **overrides}
    assert set(values) == set(FIELDS)
    return {days_field_name(name): _days(value) for name, value in values.items()}


@pytest.fixture
def completed_export(tenant_a, django_capture_on_commit_callbacks):
    """The member's own copy, ready to download."""
    _everything(tenant_a.member)
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for(tenant_a.member).post(EXPORT_URL)
    assert response.status_code == 302
    export = _requests(tenant_a.company, kind=Kind.EXPORT).get()
    assert export.status == Status.COMPLETED and export.export_key
    return export


# --- 1. a copy of my data ---------------------------------------------------------------

def test_member_export_is_logged_due_in_a_calendar_month_and_holds_everything(
        tenant_a, django_capture_on_commit_callbacks):
    company, member = tenant_a.company, tenant_a.member
    asked = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    with time_machine.travel(asked, tick=False):
        selfie, candidate, headshot = _everything(member)
        client = tenant_a.client_for(member)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(EXPORT_URL)
        assert response.status_code == 302 and response["Location"] == MY_DATA_URL

        export = _requests(company).get()
        assert export.kind == Kind.EXPORT and export.status == Status.COMPLETED
        assert export.requested_at == asked
        assert export.due_at == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)  # one calendar month
        assert export.completed_at == asked
        assert export.export_expires_at == asked + timedelta(hours=DEFAULT_POLICY.exports_hours)
        assert export.subject_user_id == member.user_id
        assert export.subject_email == "member@alpha.example"
        assert export.membership_ref == member.pk
        assert export.requested_by_user_id == member.user_id
        assert export.export_key.startswith(f"exports/c{company.pk}/m{member.pk}/")
        assert default_storage.exists(export.export_key)

        page = client.get(MY_DATA_URL)
        assert page.status_code == 200
        assert _download_url(export.pk).encode() in page.content
        assert b"2026-02-28" in page.content  # due date shown

        download = client.get(_download_url(export.pk))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"] == 'attachment; filename="likeness-data-2026-01-31.zip"'
    assert download["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(_body(download)))
    photo_name = f"generated/job-{candidate.job_id}-{candidate.pk}.jpg"
    assert set(archive.namelist()) == {"data.json", "selfies/selfie-1.jpg", photo_name,
                                       "approved-headshot.jpg"}
    assert archive.read("selfies/selfie-1.jpg") == _read(selfie.image_key)
    assert archive.read(photo_name) == _read(candidate.image_key)
    assert archive.read("approved-headshot.jpg") == _read(candidate.image_key)

    raw = archive.read("data.json").decode()
    data = json.loads(raw)
    assert data["company"] == "Alpha"
    assert data["person"]["email"] == "member@alpha.example"
    assert data["person"]["role"] == Membership.Role.MEMBER
    assert data["person"]["team"] == "Engineering"
    [consent] = data["consent_history"]
    assert consent["event"] == ConsentRecord.Event.GRANTED
    assert consent["notice_version"] == 1
    assert consent["at"] == asked.isoformat()
    [selfie_entry] = data["selfies"]
    assert selfie_entry["file"] == "selfies/selfie-1.jpg"
    assert selfie_entry["status"] == selfie.status
    [job_entry] = data["jobs"]
    assert job_entry["id"] == candidate.job_id
    assert job_entry["status"] == GenerationJob.Status.READY
    [photo] = data["generated_photos"]
    assert photo["file"] == photo_name and photo["job"] == candidate.job_id
    assert photo["likeness"] == 0.91 and photo["shown_to_you"] is True
    assert data["approved_headshot"] == {"file": "approved-headshot.jpg",
                                         "approved_at": headshot.approved_at.isoformat()}
    # Face embeddings are counted, never exported.
    assert data["face_embeddings"]["stored_for_selfies"] == 1
    assert data["face_embeddings"]["stored_for_generated_photos"] == 1
    assert "face_embedding" not in _keys_in(data)
    assert EMBEDDING_DIGITS not in raw
    # The schedule in force comes with it.
    assert {line["data"] for line in data["retention_schedule"]} >= {
        what for what, _clock in FIELDS.values()}
    # Every file data.json names is in the archive.
    named = ([s["file"] for s in data["selfies"]] + [p["file"] for p in data["generated_photos"]]
             + [data["approved_headshot"]["file"]])
    assert set(named) | {"data.json"} == set(archive.namelist())


def test_export_of_a_person_with_nothing_stored_is_just_data_json(
        tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EXPORT_URL)
    export = _requests(tenant_a.company).get()
    archive = zipfile.ZipFile(io.BytesIO(_body(client.get(_download_url(export.pk)))))
    assert archive.namelist() == ["data.json"]
    data = json.loads(archive.read("data.json"))
    assert data["person"]["email"] == "member@alpha.example"
    assert data["consent_history"] == []
    assert data["selfies"] == [] and data["jobs"] == [] and data["generated_photos"] == []
    assert data["approved_headshot"] is None
    assert data["face_embeddings"]["stored_for_selfies"] == 0


def test_export_holds_only_that_persons_data(tenant_a, django_capture_on_commit_callbacks):
    _everything(tenant_a.admin)  # a colleague's photos must not leak into the member's copy
    selfie = selfie_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EXPORT_URL)
    export = _requests(tenant_a.company).get()
    archive = zipfile.ZipFile(io.BytesIO(_body(client.get(_download_url(export.pk)))))
    assert set(archive.namelist()) == {"data.json", "selfies/selfie-1.jpg"}
    assert archive.read("selfies/selfie-1.jpg") == _read(selfie.image_key)
    data = json.loads(archive.read("data.json"))
    assert [c["event"] for c in data["consent_history"]] == ["granted"]
    assert data["jobs"] == [] and data["approved_headshot"] is None
    assert "admin@alpha.example" not in archive.read("data.json").decode()


# --- 2. who may download ----------------------------------------------------------------

def test_the_person_downloads_their_own_copy(tenant_a, completed_export):
    response = tenant_a.client_for(tenant_a.member).get(_download_url(completed_export.pk))
    assert response.status_code == 200
    assert _body(response) == _read(completed_export.export_key)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_companys_admins_can_download_a_copy_to_hand_over(tenant_a, completed_export, role):
    response = tenant_a.client_for(getattr(tenant_a, role)).get(_download_url(completed_export.pk))
    assert response.status_code == 200
    assert _body(response) == _read(completed_export.export_key)


def test_another_member_of_the_company_cannot_download_it(tenant_a, completed_export):
    colleague = MembershipFactory(company=tenant_a.company, team=tenant_a.team,
                                  user=UserFactory(email="colleague@alpha.example"))
    response = tenant_a.client_for(colleague).get(_download_url(completed_export.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_an_outsider_cannot_download_it(tenant_a, tenant_b, completed_export, role):
    client = tenant_b.client_for(getattr(tenant_b, role))
    assert client.get(_download_url(completed_export.pk)).status_code == 404
    # Nor through their own company's address: the request belongs to alpha.
    assert client.get(_download_url(completed_export.pk, slug="bravo")).status_code == 404


def test_a_copy_expires(tenant_a, completed_export):
    url = _download_url(completed_export.pk)
    expires = completed_export.export_expires_at
    with time_machine.travel(expires - timedelta(seconds=1), tick=False):
        assert tenant_a.client_for(tenant_a.member).get(url).status_code == 200
    for when in (expires, expires + timedelta(days=1)):
        with time_machine.travel(when, tick=False):
            assert tenant_a.client_for(tenant_a.member).get(url).status_code == 404
            assert tenant_a.client_for(tenant_a.admin).get(url).status_code == 404


def test_a_copy_still_being_prepared_and_an_erasure_request_cannot_be_downloaded(
        tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.member)
    client.post(EXPORT_URL)  # on_commit never runs: stays pending
    pending = _requests(tenant_a.company).get()
    assert pending.status == Status.PENDING
    assert client.get(_download_url(pending.pk)).status_code == 404
    assert tenant_a.client_for(tenant_a.admin).get(_download_url(pending.pk)).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ERASE_URL, {"confirm": "on"})
    erasure = _requests(tenant_a.company, kind=Kind.ERASURE).get()
    assert tenant_a.client_for(tenant_a.admin).get(_download_url(erasure.pk)).status_code == 404


def test_download_needs_a_signed_in_user(tenant_a, completed_export, client):
    response = client.get(_download_url(completed_export.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- 3. one request of a kind at a time ---------------------------------------------------

def test_a_second_copy_while_one_is_pending_is_refused(tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.member)
    with django_capture_on_commit_callbacks() as first_work:  # not executed: still pending
        assert client.post(EXPORT_URL).status_code == 302
    assert len(first_work) == 1
    first = _requests(tenant_a.company).get()
    assert first.status == Status.PENDING

    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as second_work:
        response = client.post(EXPORT_URL, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(MY_DATA_URL, 302)]
    assert b"That request is already in progress." in response.content
    assert second_work == []
    assert db_fingerprint() == before

    # Once the first is done, a new copy can be asked for.
    first_work[0]()
    first.refresh_from_db()
    assert first.status == Status.COMPLETED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EXPORT_URL)
    assert _requests(tenant_a.company, kind=Kind.EXPORT, status=Status.COMPLETED).count() == 2


def test_an_admin_request_for_a_copy_also_waits_for_the_pending_one(tenant_a):
    tenant_a.client_for(tenant_a.member).post(EXPORT_URL)  # pending
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(_behalf_url(tenant_a.member.pk, "export"), follow=True)
    assert response.status_code == 200
    assert b"That request is already in progress." in response.content
    assert db_fingerprint() == before


# --- 4. erasure by the person -----------------------------------------------------------

def test_erasure_needs_the_confirm_box(tenant_a, django_capture_on_commit_callbacks):
    selfie, candidate, _headshot = _everything(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(ERASE_URL, {})
    assert response.status_code == 400
    assert b"Tick the box to confirm that you want your data erased." in response.content
    assert work == []
    assert db_fingerprint() == before
    assert default_storage.exists(selfie.image_key) and default_storage.exists(candidate.image_key)


def test_erasure_withdraws_consent_and_deletes_every_photo(
        tenant_a, django_capture_on_commit_callbacks):
    company, member = tenant_a.company, tenant_a.member
    selfie, candidate, headshot = _everything(member)
    colleague_selfie = selfie_for(tenant_a.admin)
    client = tenant_a.client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EXPORT_URL)
    export = _requests(company, kind=Kind.EXPORT).get()
    member_keys = [selfie.image_key, selfie.thumb_key, candidate.image_key, export.export_key]
    assert all(default_storage.exists(key) for key in member_keys)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ERASE_URL, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == MY_DATA_URL

    erasure = _requests(company, kind=Kind.ERASURE).get()
    assert erasure.status == Status.COMPLETED and erasure.completed_at is not None
    assert erasure.subject_user_id == member.user_id and erasure.membership_ref == member.pk
    assert erasure.due_at == erasure.requested_at + relativedelta(months=1)

    records = list(ConsentRecord.objects.for_company(company).filter(
        subject_user_id=member.user_id).order_by("pk"))
    assert [r.event for r in records] == [ConsentRecord.Event.GRANTED, ConsentRecord.Event.WITHDRAWN]
    assert consent_chain_verify(company=company) == []

    assert not Selfie.objects.for_company(company).filter(membership=member).exists()
    assert not Candidate.objects.for_company(company).filter(membership=member).exists()
    assert not Headshot.objects.for_company(company).filter(membership=member).exists()
    assert not GenerationJob.objects.for_company(company).filter(membership=member).exists()
    for key in member_keys:
        assert not default_storage.exists(key), key
    # The copy made before is gone with the rest, and its log entry says so.
    export.refresh_from_db()
    assert export.export_key == "" and export.export_expires_at is None
    assert client.get(_download_url(export.pk)).status_code == 404

    receipts = DeletionReceipt.objects.for_company(company).filter(subject_user_id=member.user_id)
    assert {r.kind for r in receipts} >= {"selfie", "candidate", "headshot", "job", "export",
                                          "face_embedding"}
    assert receipts.get(kind="selfie").rule == RULE_REQUEST
    assert receipts.get(kind="headshot", object_ref=f"headshot:{headshot.pk}").rule == RULE_REQUEST

    # The person stays a member (with consent withdrawn); colleagues keep their photos.
    member.refresh_from_db()
    assert member.status == Membership.Status.WITHDRAWN
    assert Selfie.objects.for_company(company).filter(pk=colleague_selfie.pk).exists()
    assert default_storage.exists(colleague_selfie.image_key)


def test_erasure_due_date_is_one_calendar_month(tenant_a, django_capture_on_commit_callbacks):
    asked = datetime(2026, 1, 30, 23, 0, tzinfo=UTC)
    with time_machine.travel(asked, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            tenant_a.client_for(tenant_a.member).post(ERASE_URL, {"confirm": "on"})
    erasure = _requests(tenant_a.company).get()
    assert erasure.kind == Kind.ERASURE
    assert erasure.requested_at == asked
    assert erasure.due_at == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)


def test_erasure_without_consent_still_completes(tenant_a, django_capture_on_commit_callbacks):
    """Nobody consented, so nothing is withdrawn; the request is still logged and done."""
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.member).post(ERASE_URL, {"confirm": "on"})
    assert _requests(tenant_a.company).get().status == Status.COMPLETED
    assert not ConsentRecord.objects.for_company(tenant_a.company).exists()


@pytest.mark.parametrize("url", [EXPORT_URL, ERASE_URL, MY_DATA_URL])
def test_my_data_is_not_reachable_by_an_outsider(tenant_a, tenant_b, url,
                                                 django_capture_on_commit_callbacks):
    selfie_for(tenant_a.member)
    client = tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = (client.get(url) if url == MY_DATA_URL
                    else client.post(url, {"confirm": "on"}))
    assert response.status_code == 404
    assert db_fingerprint() == before


# --- 5. an admin asks on someone's behalf -----------------------------------------------

@pytest.mark.parametrize("role", ["owner", "admin"])
def test_an_admin_asks_for_a_copy_on_a_members_behalf(tenant_a, role,
                                                      django_capture_on_commit_callbacks):
    selfie, _candidate, _headshot = _everything(tenant_a.member)
    actor = getattr(tenant_a, role)
    client = tenant_a.client_for(actor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_behalf_url(tenant_a.member.pk, "export"))
    assert response.status_code == 302 and response["Location"] == ADMIN_URL
    export = _requests(tenant_a.company).get()
    assert export.kind == Kind.EXPORT and export.status == Status.COMPLETED
    assert export.subject_user_id == tenant_a.member.user_id
    assert export.membership_ref == tenant_a.member.pk
    assert export.requested_by_user_id == actor.user_id
    # The log on the privacy page says so and links the download.
    page = client.get(ADMIN_URL)
    assert b"Copy of my data requested for member@alpha.example" in page.content
    assert _download_url(export.pk).encode() in page.content
    archive = zipfile.ZipFile(io.BytesIO(_body(client.get(_download_url(export.pk)))))
    assert archive.read("selfies/selfie-1.jpg") == _read(selfie.image_key)
    assert json.loads(archive.read("data.json"))["person"]["email"] == "member@alpha.example"
    # The person sees it on their own page and can download it too.
    member_client = tenant_a.client_for(tenant_a.member)
    assert _download_url(export.pk).encode() in member_client.get(MY_DATA_URL).content
    assert member_client.get(_download_url(export.pk)).status_code == 200


def test_an_admin_asks_for_erasure_on_a_members_behalf(tenant_a, django_capture_on_commit_callbacks):
    company, member = tenant_a.company, tenant_a.member
    selfie, candidate, _headshot = _everything(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for(tenant_a.admin).post(_behalf_url(member.pk, "erasure"),
                                                            {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == ADMIN_URL
    erasure = _requests(company).get()
    assert erasure.kind == Kind.ERASURE and erasure.status == Status.COMPLETED
    assert erasure.requested_by_user_id == tenant_a.admin.user_id
    assert erasure.subject_user_id == member.user_id
    assert not Selfie.objects.for_company(company).filter(membership=member).exists()
    assert not Headshot.objects.for_company(company).filter(membership=member).exists()
    assert not default_storage.exists(selfie.image_key)
    assert not default_storage.exists(candidate.image_key)
    latest = ConsentRecord.objects.for_company(company).filter(
        subject_user_id=member.user_id).order_by("-pk").first()
    assert latest.event == ConsentRecord.Event.WITHDRAWN
    assert consent_chain_verify(company=company) == []


@pytest.mark.parametrize("kind", ["export", "erasure"])
@pytest.mark.parametrize("whose", ["admin", "member"])
def test_a_member_cannot_ask_on_anyones_behalf(tenant_a, kind, whose,
                                                django_capture_on_commit_callbacks):
    _everything(tenant_a.admin)
    selfie_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(_behalf_url(getattr(tenant_a, whose).pk, kind), {"confirm": "yes"})
    assert response.status_code == 403
    assert work == []
    assert db_fingerprint() == before


@pytest.mark.parametrize("kind", ["export", "erasure"])
@pytest.mark.parametrize("slug", ["alpha", "bravo"])
def test_an_outsider_cannot_ask_on_behalf_of_another_companys_member(
        tenant_a, tenant_b, kind, slug, django_capture_on_commit_callbacks):
    selfie_for(tenant_a.member)
    client = tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(_behalf_url(tenant_a.member.pk, kind, slug=slug),
                               {"confirm": "yes"})
    assert response.status_code == 404
    assert work == []
    assert db_fingerprint() == before


@pytest.mark.parametrize("kind", ["delete", "EXPORT", "erase", "access"])
def test_an_unknown_kind_of_request_is_404(tenant_a, kind, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_behalf_url(tenant_a.member.pk, kind))
    assert response.status_code == 404
    assert db_fingerprint() == before


def test_an_unknown_person_is_404(tenant_a, django_capture_on_commit_callbacks):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_behalf_url(999_999_999, "export"))
    assert response.status_code == 404
    assert db_fingerprint() == before


def test_asking_on_someones_behalf_is_post_only(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.get(_behalf_url(tenant_a.member.pk, "erasure"))
    assert response.status_code == 405
    assert db_fingerprint() == before


# --- 6. the privacy admin page ----------------------------------------------------------

@pytest.mark.parametrize("role", ["owner", "admin"])
def test_admins_open_the_privacy_page(tenant_a, role):
    response = tenant_a.client_for(getattr(tenant_a, role)).get(ADMIN_URL)
    assert response.status_code == 200
    page = response.content.decode()
    for name in FIELDS:
        assert f'name="{days_field_name(name)}"' in page, name
    assert "deleted 7 days after they were made" in page  # the schedule as employees read it
    # Only the owner is offered closing the company.
    assert ('action="/c/alpha/admin/close/"' in page) == (role == "owner")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_member_gets_403_on_the_privacy_page(tenant_a, method):
    client = tenant_a.client_for(tenant_a.member)
    before = db_fingerprint()
    response = (client.get(ADMIN_URL) if method == "get"
                else client.post(ADMIN_URL, _policy_post(unchosen_candidates_hours=72)))
    assert response.status_code == 403
    assert db_fingerprint() == before


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_an_outsider_gets_404_on_the_privacy_page(tenant_a, tenant_b, method, role):
    client = tenant_b.client_for(getattr(tenant_b, role))
    before = db_fingerprint()
    response = (client.get(ADMIN_URL) if method == "get"
                else client.post(ADMIN_URL, _policy_post(unchosen_candidates_hours=72)))
    assert response.status_code == 404
    assert db_fingerprint() == before


def test_the_privacy_page_logs_requests_and_flags_overdue_ones(tenant_a):
    asked = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    with time_machine.travel(asked, tick=False):
        tenant_a.client_for(tenant_a.member).post(EXPORT_URL)  # stays pending
        page = tenant_a.client_for(tenant_a.admin).get(ADMIN_URL).content.decode()
    assert "member@alpha.example" in page and "2026-02-28" in page
    assert 'class="overdue"' not in page
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        page = tenant_a.client_for(tenant_a.admin).get(ADMIN_URL).content.decode()
    assert 'class="overdue"' in page


def test_saving_a_policy_publishes_it_in_a_new_notice_version(tenant_a):
    company = tenant_a.company
    v1 = notice_current(company=company)
    assert "Generated photos you did not choose: deleted 7 days after they were made." in v1.text
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(ADMIN_URL, _policy_post(unchosen_candidates_hours=72,
                                                   headshots_hours=""), follow=True)
    assert response.redirect_chain == [(ADMIN_URL, 302)]
    assert (b"Retention policy saved and published to employees in consent notice version 2."
            in response.content)

    row = RetentionPolicy.objects.for_company(company).get()
    assert row.unchosen_candidates_hours == 72
    assert row.headshots_hours is None
    assert row.updated_by_id == tenant_a.admin.user_id
    for name, value in policy_as_dict(DEFAULT_POLICY).items():
        if name != "unchosen_candidates_hours":
            assert getattr(row, name) == value, name

    notices = list(ConsentNotice.objects.for_company(company).order_by("version"))
    assert [n.version for n in notices] == [1, 2]
    v2 = notices[1]
    assert v2.body == v1.body  # the company's own words are kept
    assert v2.created_by_id == tenant_a.admin.user_id
    assert "Generated photos you did not choose: deleted 3 days after they were made." in v2.text
    assert "deleted 7 days after they were made" in v2.text  # rejected photos keep 7 days
    assert notice_current(company=company).pk == v2.pk
    # Employees read it on the consent page; the admin page's schedule says it too.
    consent_page = tenant_a.client_for(tenant_a.member).get("/c/alpha/consent/").content.decode()
    assert "Generated photos you did not choose: deleted 3 days after they were made." in consent_page
    assert "Generated photos you did not choose</strong>: deleted 3 days" in response.content.decode()


def test_a_first_policy_with_no_notice_yet_publishes_version_one(tenant_a):
    response = tenant_a.client_for(tenant_a.owner).post(
        ADMIN_URL, _policy_post(headshots_hours=24 * 365))
    assert response.status_code == 302
    notice = ConsentNotice.objects.for_company(tenant_a.company).get()
    assert notice.version == 1
    assert "Your approved headshot: deleted 1 year after approval." in notice.text


def test_the_ceiling_itself_is_allowed(tenant_a):
    response = tenant_a.client_for(tenant_a.admin).post(
        ADMIN_URL, _policy_post(job_records_hours=HARD_CEILING_HOURS))
    assert response.status_code == 302
    assert RetentionPolicy.objects.for_company(tenant_a.company).get().job_records_hours == 26280
    assert "job ends" in notice_current(company=tenant_a.company).text
    assert ("Records of your headshot jobs (no photos): deleted 3 years after the job ends."
            in notice_current(company=tenant_a.company).text)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"job_records_hours": 26281}, "(3 years), the legal ceiling"),
    ({"audit_log_hours": 26281}, "(3 years), the legal ceiling"),
    ({"headshots_hours": 26281}, "(3 years), the legal ceiling"),
    ({"selfies_max_hours": 721}, "at most 30 days after upload"),
    ({"selfies_after_last_job_hours": 100, "selfies_max_hours": 99}, "cannot be longer than"),
    ({"embeddings_after_last_job_hours": 700, "selfies_max_hours": 600,
      "selfies_after_last_job_hours": 48}, "Face data cannot be kept longer"),
    ({"unchosen_candidates_hours": -1}, "greater than or equal to 0"),
    ({"exports_hours": ""}, "This field is required"),
    ({"rejected_candidates_hours": "a week"}, "Enter a number"),
])
def test_an_invalid_policy_is_refused_and_changes_nothing(tenant_a, overrides, message):
    notice_current(company=tenant_a.company)
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(ADMIN_URL, _policy_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert db_fingerprint() == before


def test_saving_the_same_policy_again_changes_nothing(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    values = _policy_post(unchosen_candidates_hours=72)
    assert client.post(ADMIN_URL, values).status_code == 302
    before = db_fingerprint()
    response = client.post(ADMIN_URL, values, follow=True)
    assert response.redirect_chain == [(ADMIN_URL, 302)]
    assert b"Nothing changed." in response.content
    assert db_fingerprint() == before


def test_saving_the_defaults_when_none_were_set_changes_nothing(tenant_a):
    notice_current(company=tenant_a.company)
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(ADMIN_URL, _policy_post(), follow=True)
    assert b"Nothing changed." in response.content
    assert db_fingerprint() == before
    assert not RetentionPolicy.objects.for_company(tenant_a.company).exists()


def test_a_policy_change_shortens_the_life_of_new_copies(tenant_a, django_capture_on_commit_callbacks):
    tenant_a.client_for(tenant_a.admin).post(ADMIN_URL, _policy_post(exports_hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.member).post(EXPORT_URL)
    export = _requests(tenant_a.company).get()
    assert export.export_expires_at == export.completed_at + timedelta(hours=2)


def test_one_companys_policy_leaves_the_others_alone(tenant_a, tenant_b):
    tenant_a.client_for(tenant_a.admin).post(ADMIN_URL, _policy_post(unchosen_candidates_hours=72))
    assert not RetentionPolicy.objects.for_company(tenant_b.company).exists()
    assert ("Generated photos you did not choose: deleted 7 days after they were made."
            in notice_current(company=tenant_b.company).text)


# --- 7. closing the company -------------------------------------------------------------

def test_the_owner_closes_the_company_and_everyone_is_erased(
        tenant_a, tenant_b, django_capture_on_commit_callbacks):
    company = tenant_a.company
    selfie, candidate, _headshot = _everything(tenant_a.member)
    admin_selfie = selfie_for(tenant_a.admin)
    other_selfie = selfie_for(tenant_b.member)  # another company: untouched
    keys = [selfie.image_key, selfie.thumb_key, candidate.image_key, admin_selfie.image_key,
            admin_selfie.thumb_key]
    assert all(default_storage.exists(key) for key in keys)
    consent_rows = list(ConsentRecord.objects.for_company(company).order_by("pk")
                        .values_list("pk", "hash", "event"))
    assert len(consent_rows) == 2
    people = {m.user_id for m in (tenant_a.owner, tenant_a.admin, tenant_a.member)}
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.member).post(EXPORT_URL)
    export = _requests(company).get()
    keys.append(export.export_key)
    owner_client = tenant_a.client_for(tenant_a.owner)
    assert owner_client.get("/c/alpha/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(CLOSE_URL, {"slug": "alpha"})
    assert response.status_code == 302 and response["Location"] == "/"

    company.refresh_from_db()
    assert company.closed_at is not None
    assert not Membership.objects.for_company(company).exists()
    for model in (Selfie, Candidate, Headshot, GenerationJob):
        assert not model.objects.for_company(company).exists(), model
    for key in keys:
        assert not default_storage.exists(key), key
    # The consent log stays, unchanged and still a valid chain.
    assert list(ConsentRecord.objects.for_company(company).order_by("pk")
                .values_list("pk", "hash", "event")) == consent_rows
    assert consent_chain_verify(company=company) == []
    # The request log stays (by value), without the copy's file.
    export.refresh_from_db()
    assert export.subject_email == "member@alpha.example" and export.export_key == ""
    assert DeletionReceipt.objects.for_company(company).filter(rule=RULE_COMPANY_CLOSED,
                                                               kind="selfie").count() == 2
    # Accounts that belonged nowhere else are anonymised.
    for user in User.objects.filter(pk__in=people):
        assert user.email.endswith("@erased.invalid") and not user.is_active
    # Nobody gets in any more.
    for client in (owner_client, tenant_a.client_for(tenant_a.member)):
        assert client.get("/c/alpha/").status_code in (302, 404)
        assert client.get(ADMIN_URL).status_code in (302, 404)
    # The other company is untouched.
    assert Selfie.objects.for_company(tenant_b.company).filter(pk=other_selfie.pk).exists()
    assert default_storage.exists(other_selfie.image_key)
    assert Company.objects.get(pk=tenant_b.company.pk).closed_at is None
    assert tenant_b.client_for(tenant_b.member).get("/c/bravo/").status_code == 200


def test_a_closed_company_locks_everyone_out_before_the_erasure_runs(tenant_a):
    owner_client = tenant_a.client_for(tenant_a.owner)
    member_client = tenant_a.client_for(tenant_a.member)
    response = owner_client.post(CLOSE_URL, {"slug": "alpha"})  # on_commit: erasure not run
    assert response.status_code == 302
    tenant_a.company.refresh_from_db()
    assert tenant_a.company.closed_at is not None
    assert Membership.objects.for_company(tenant_a.company).count() == 3  # not yet erased
    for client in (owner_client, member_client):
        assert client.get("/c/alpha/").status_code == 404
        assert client.get(MY_DATA_URL).status_code == 404
    assert owner_client.post(CLOSE_URL, {"slug": "alpha"}).status_code == 404


def test_after_closing_the_owner_lands_on_a_page_that_works(tenant_a, tenant_b):
    owner_client = tenant_a.client_for(tenant_a.owner)
    # The erasure runs on the privacy worker a little later (on_commit is not run here).
    response = owner_client.post(CLOSE_URL, {"slug": "alpha"}, follow=True)
    assert "Alpha is closed." in response.content.decode()
    assert response.status_code == 200
    both = MembershipFactory(company=tenant_b.company, user=tenant_a.member.user)
    home = tenant_a.client_for(both).get("/")
    assert home.status_code in (200, 302)
    assert b"/c/alpha/" not in home.content and home.get("Location") != "/c/alpha/"


def test_a_member_who_belongs_elsewhere_keeps_their_account(
        tenant_a, tenant_b, django_capture_on_commit_callbacks):
    both = MembershipFactory(company=tenant_b.company, user=tenant_a.member.user)
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.owner).post(CLOSE_URL, {"slug": "alpha"})
    user = User.objects.get(pk=tenant_a.member.user_id)
    assert user.email == "member@alpha.example" and user.is_active
    assert Membership.objects.for_company(tenant_b.company).filter(pk=both.pk).exists()
    client = tenant_a.client_for(both)
    assert client.get("/c/alpha/").status_code == 404
    assert client.get("/c/bravo/").status_code == 200


@pytest.mark.parametrize("slug", ["bravo", "ALPHA", "alph", ""])
def test_closing_needs_the_exact_slug(tenant_a, slug, django_capture_on_commit_callbacks):
    selfie_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.owner)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(CLOSE_URL, {"slug": slug}, follow=True)
    assert response.redirect_chain == [(ADMIN_URL, 302)]
    assert "Type “alpha” exactly to close the company." in response.content.decode()
    assert work == []
    assert db_fingerprint() == before


@pytest.mark.parametrize("role", ["admin", "member"])
def test_only_the_owner_can_close_the_company(tenant_a, role, django_capture_on_commit_callbacks):
    selfie_for(tenant_a.member)
    client = tenant_a.client_for(getattr(tenant_a, role))
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(CLOSE_URL, {"slug": "alpha"})
    assert response.status_code == 403
    assert work == []
    assert db_fingerprint() == before


def test_an_outsider_cannot_close_the_company(tenant_a, tenant_b,
                                              django_capture_on_commit_callbacks):
    selfie_for(tenant_a.member)
    client = tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    with django_capture_on_commit_callbacks(execute=True) as work:
        response = client.post(CLOSE_URL, {"slug": "alpha"})
        # Nor from their own company's page: there, "alpha" is the wrong name.
        own = client.post("/c/bravo/admin/close/", {"slug": "alpha"})
    assert response.status_code == 404
    assert own.status_code == 302 and own["Location"] == "/c/bravo/admin/privacy/"
    assert work == []
    assert db_fingerprint() == before


def test_closing_is_post_only(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    before = db_fingerprint()
    assert client.get(CLOSE_URL).status_code == 405
    assert db_fingerprint() == before
    assert Company.objects.get(pk=tenant_a.company.pk).closed_at is None


def test_closed_at_records_when_the_company_was_closed(tenant_a):
    when = timezone.now().replace(microsecond=0) + timedelta(days=3)
    with time_machine.travel(when, tick=False):
        tenant_a.client_for(tenant_a.owner).post(CLOSE_URL, {"slug": "alpha"})
    assert Company.objects.get(pk=tenant_a.company.pk).closed_at == when
