"""Erasure on events: consent withdrawn and a leaver remove every file and row of the person
(enumerated over every model and the whole storage), leave everyone else's data alone, and
keep the consent chain valid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone

from generation.jobs import job_lease_renew
from generation.models import GenerationJob
from generation.services.jobs import candidate_store
from privacy.models import ConsentRecord, DataSubjectRequest, DeletionReceipt
from privacy.services import consent_chain_verify
from teams.models import Invitation, Membership, User

from .helpers import image_bytes
from .privacy_data import all_keys, person_data

OURS = ("teams", "generation", "billing", "privacy")
# Kept by design, and why: the consent log is legal proof of the choice; receipts prove
# the erasure; the request log proves requests were answered.
LEGAL_RECORDS = {ConsentRecord, DeletionReceipt, DataSubjectRequest}


def rows_about(*, membership_id: int, user_id: int) -> dict[str, int]:
    """Every row of every model of ours that points at the person, by any route."""
    found: dict[str, int] = {}
    for model in apps.get_models():
        if model._meta.app_label not in OURS:
            continue
        conditions = models.Q(pk__in=[])
        for field in model._meta.concrete_fields:
            target = getattr(field, "related_model", None)
            if target is Membership:
                conditions |= models.Q(**{field.name: membership_id})
            elif target is User:
                conditions |= models.Q(**{field.name: user_id})
            elif field.name in ("subject_user_id", "recorded_by_user_id",
                                "requested_by_user_id"):
                conditions |= models.Q(**{field.name: user_id})
            elif field.name == "membership_ref":
                conditions |= models.Q(**{field.name: membership_id})
        if model is Membership:
            conditions |= models.Q(pk=membership_id)
        if model is User:
            conditions |= models.Q(pk=user_id)
        count = model._base_manager.filter(conditions).count()
        if count:
            found[model.__name__] = count
    return found


def person_folders(membership: Membership, job_ids: list[int]) -> list[str]:
    company = membership.company_id
    return [f"selfies/c{company}/m{membership.pk}/", f"exports/c{company}/m{membership.pk}/"] + [
        f"{area}/c{company}/j{job}/" for job in job_ids for area in ("candidates", "lora")]


def everything_of(membership):
    """person_data plus an export waiting for download and a stray cached file."""
    data = person_data(membership)
    company = membership.company
    export_key = default_storage.save(f"exports/c{company.pk}/m{membership.pk}/copy.zip",
                                      ContentFile(b"PK"))
    DataSubjectRequest.objects.create(
        company=company, kind="export", status="completed", subject_user_id=membership.user_id,
        subject_email=membership.user.email, membership_ref=membership.pk,
        requested_at=timezone.now(), due_at=timezone.now() + timedelta(days=30),
        completed_at=timezone.now(), export_key=export_key,
        export_expires_at=timezone.now() + timedelta(days=7))
    stray = default_storage.save(f"selfies/c{company.pk}/m{membership.pk}/upload-cache.jpg",
                                 ContentFile(b"half an upload"))
    data.keys["export"] = [export_key]
    data.keys["stray"] = [stray]
    return data


@pytest.fixture
def three_people(tenant_a, tenant_b, backend):
    """The person erased, a colleague in the same company, and someone at another company."""
    return (everything_of(tenant_a.member), everything_of(tenant_a.admin),
            everything_of(tenant_b.member))


def assert_erased(backend, membership, data, *, allowed: set[str]):
    left = rows_about(membership_id=membership.pk, user_id=membership.user_id)
    assert set(left) <= allowed, left
    stored = backend.keys()
    assert not all_keys(data) & stored
    for folder in person_folders(membership, [data.job.pk]):
        assert not [key for key in stored if key.startswith(folder)], folder


def test_withdrawing_consent_erases_every_file_and_row_of_the_person(
        tenant_a, tenant_b, three_people, backend, django_capture_on_commit_callbacks):
    mine, colleague, elsewhere = three_people
    member = tenant_a.member
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for(member).post("/c/alpha/consent/withdraw/", {"confirm": "yes"})
    assert response.status_code == 302

    # The person stays a member who said no: their membership, account and accepted
    # invitation (HR data, not collected under the consent) remain; nothing else does.
    assert_erased(backend, member, mine, allowed={
        "ConsentRecord", "DeletionReceipt", "DataSubjectRequest", "Membership", "User",
        "Invitation"})
    member.refresh_from_db()
    assert member.status == Membership.Status.WITHDRAWN
    records = ConsentRecord.objects.for_company(tenant_a.company).filter(
        subject_user_id=member.user_id)
    assert list(records.values_list("event", flat=True)) == ["granted", "withdrawn"]
    assert consent_chain_verify(company=tenant_a.company) == []

    # Every deletion has a receipt under the withdrawal rule, with the key's hash only.
    receipts = DeletionReceipt.objects.for_company(tenant_a.company).filter(
        subject_user_id=member.user_id)
    assert set(receipts.values_list("rule", flat=True)) == {"erasure.consent_withdrawn"}
    assert {"selfie", "candidate", "headshot", "job", "lora_weights", "export", "orphan_file",
            "face_embedding"} <= set(receipts.values_list("kind", flat=True))

    # Everyone else's data is untouched.
    assert all_keys(colleague) | all_keys(elsewhere) <= backend.keys()


def test_a_leaver_is_erased_with_their_membership_and_account(
        tenant_a, three_people, backend):
    mine, colleague, elsewhere = three_people
    member = tenant_a.member
    user_id = member.user_id
    response = tenant_a.client_for(tenant_a.admin).post(
        f"/c/alpha/admin/people/{member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302

    assert_erased(backend, member, mine, allowed={"ConsentRecord", "DeletionReceipt",
                                                  "DataSubjectRequest", "User"})
    # The account is kept only as an anonymous row (ledger lines may point at it).
    user = User.objects.get(pk=user_id)
    assert user.email == f"erased-{user_id}@erased.invalid" and user.full_name == ""
    assert not user.is_active and not user.has_usable_password()
    assert not Invitation.objects.for_company(tenant_a.company).filter(
        email__iexact="member@alpha.example").exists()
    assert consent_chain_verify(company=tenant_a.company) == []
    assert ConsentRecord.objects.for_company(tenant_a.company).filter(
        subject_user_id=user_id).exists()
    assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
        subject_user_id=user_id, rule="erasure.member_removed", kind="headshot").exists()
    assert all_keys(colleague) | all_keys(elsewhere) <= backend.keys()


def test_a_leaver_who_belongs_to_another_company_keeps_that_membership(tenant_a, tenant_b):
    from .factories import MembershipFactory

    elsewhere = MembershipFactory(company=tenant_b.company, user=tenant_a.member.user)
    person_data(tenant_a.member)
    tenant_a.client_for(tenant_a.admin).post(
        f"/c/alpha/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    user = User.objects.get(pk=tenant_a.member.user_id)
    assert user.email == "member@alpha.example" and user.is_active
    assert Membership.objects.for_company(tenant_b.company).filter(pk=elsewhere.pk).exists()


def test_a_gpu_worker_still_running_stops_and_leaves_nothing_behind(
        tenant_a, local_backend, django_capture_on_commit_callbacks):
    data = person_data(tenant_a.member)
    job = GenerationJob.objects.create(
        company=tenant_a.company, membership=tenant_a.member, kind="consistent_batch",
        look_version=data.job.look_version, backend="gpu", status="running", seeds=[5, 6],
        started_at=timezone.now(), lease_until=timezone.now() + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client_for(tenant_a.member).post("/c/alpha/consent/withdraw/", {"confirm": "yes"})
    # The worker's next heartbeat fails (it stops), and an image it was about to store is
    # refused without leaving a file.
    assert not job_lease_renew(job, lease=timedelta(minutes=5))
    assert candidate_store(job=job, seed=5, output_index=0, source_id="gpu:late",
                           data=image_bytes((64, 64), fmt="PNG")) is None
    assert not [p for p in local_backend.rglob("*") if p.is_file()
                and f"/j{job.pk}/" in p.as_posix()]


def test_erasure_leaves_the_denied_company_alone(tenant_a, tenant_b):
    """An admin of another company cannot remove (and so erase) our member."""
    from .helpers import db_fingerprint

    person_data(tenant_a.member)
    outsider = tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    response = outsider.post(
        f"/c/alpha/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 404
    response = outsider.post(
        f"/c/bravo/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 404
    assert db_fingerprint() == before
