"""The credit ledger: reservations, consumption, automatic refunds, limits, the free preview."""

from __future__ import annotations

import numpy as np
import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from PIL import Image

from billing.limits import BillingLimitReached
from billing.models import CreditEntry
from billing.services import credit_balance, credits_adjust, credits_reserve
from core.errors import ServiceError
from generation.models import Candidate, GenerationJob
from generation.services.jobs import job_cancel, job_create, job_fail
from generation.services.review import look_preview_create
from teams.services.invitations import invitation_create

from .faces import face_bytes
from .helpers import approved_look, at_once, db_fingerprint, selfie_for

Kind = CreditEntry.Kind


@pytest.fixture
def billing_on(settings):
    settings.BILLING_ENABLED = True
    settings.CREDITS_PER_JOB = 1
    settings.LOW_BALANCE_CREDITS = 0
    settings.REPLICATE_API_TOKEN = ""
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}


def _ledger(company) -> list[tuple[str, int]]:
    return [(e.kind, e.amount) for e in
            CreditEntry.objects.for_company(company).order_by("created_at", "pk")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_delivered_job_consumes_its_credit_and_a_failed_one_gets_it_back(tenant_a, billing_on):
    company = tenant_a.company
    credits_adjust(company=company, amount=2, reason="welcome credits", actor=None)
    approved_look(company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))

    delivered = job_create(company=company, membership=tenant_a.member,
                           requested_by=tenant_a.member.user)
    delivered.refresh_from_db()
    assert delivered.status == GenerationJob.Status.READY
    assert credit_balance(company=company) == 1
    assert _ledger(company) == [(Kind.ADJUSTMENT, 2), (Kind.RESERVATION, -1),
                                (Kind.CONSUMPTION, 0)]

    # A job that fails hands its credit back by itself, once however often it is settled.
    version = delivered.look_version
    failing = GenerationJob.objects.create(
        company=company, membership=tenant_a.member, kind=GenerationJob.Kind.SINGLE_SELFIE,
        look_version=version, backend="offline", seeds=[1])
    credits_reserve(company=company, job=failing)
    assert credit_balance(company=company) == 0
    job_fail(failing, reason="the backend broke")
    job_fail(failing, reason="the backend broke")  # a redelivered task
    assert credit_balance(company=company) == 1
    cancelled = GenerationJob.objects.create(
        company=company, membership=tenant_a.member, kind=GenerationJob.Kind.SINGLE_SELFIE,
        look_version=version, backend="offline", seeds=[1])
    credits_reserve(company=company, job=cancelled)
    job_cancel(company=company, job=cancelled, reason="changed their mind")
    assert credit_balance(company=company) == 1
    assert [k for k, _ in _ledger(company)].count(Kind.REFUND) == 2


@pytest.mark.django_db
def test_without_credits_a_job_is_refused_with_a_clear_message_and_nothing_changes(
        tenant_a, billing_on):
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    before = db_fingerprint()
    with pytest.raises(ServiceError, match="no headshot credits left"):
        job_create(company=tenant_a.company, membership=tenant_a.member,
                   requested_by=tenant_a.member.user)
    assert db_fingerprint() == before


@pytest.mark.django_db(transaction=True)
def test_two_jobs_racing_for_the_last_credit_only_one_gets_it(tenant_a, billing_on):
    company = tenant_a.company
    credits_adjust(company=company, amount=1, reason="one left", actor=None)
    version = approved_look(company)
    jobs = [GenerationJob.objects.create(
        company=company, membership=tenant_a.member, kind=GenerationJob.Kind.SINGLE_SELFIE,
        look_version=version, backend="offline", seeds=[1]) for _ in range(2)]
    outcomes: list[str] = []

    def reserve(job) -> None:
        try:
            credits_reserve(company=company, job=job)
            outcomes.append("reserved")
        except BillingLimitReached:
            outcomes.append("refused")

    at_once(reserve, jobs)
    assert sorted(outcomes) == ["refused", "reserved"]
    assert credit_balance(company=company) == 0


@pytest.mark.django_db
def test_inviting_more_people_than_the_credits_cover_is_refused(tenant_a, billing_on):
    credits_adjust(company=tenant_a.company, amount=4, reason="four seats", actor=None)
    # The fixture's owner, admin and member are all still waiting for headshots: three
    # credits are spoken for.
    invitation_create(company=tenant_a.company, email="one@alpha.example", full_name="One",
                      created_by=tenant_a.owner.user, send=False)
    before = db_fingerprint()
    with pytest.raises(ServiceError, match="needs 5 credits in all"):
        invitation_create(company=tenant_a.company, email="two@alpha.example",
                          full_name="Two", created_by=tenant_a.owner.user, send=False)
    assert db_fingerprint() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_company_without_credits_sees_its_look_once_watermarked(tenant_a, billing_on):
    company = tenant_a.company
    from generation.services.looks import look_version_create

    version = look_version_create(company=company, actor=tenant_a.admin, team=None,
                                  preset="corporate")
    selfie = selfie_for(tenant_a.admin, data=face_bytes("obama.jpg"))  # the admin's own
    preview = look_preview_create(company=company, actor=tenant_a.admin, version=version,
                                  selfie=selfie)
    preview.refresh_from_db()
    assert preview.watermarked and preview.status == GenerationJob.Status.READY
    assert credit_balance(company=company) == 0  # free
    for candidate in Candidate.objects.for_company(company).filter(job=preview):
        for key in (candidate.image_key, candidate.thumb_key):
            with default_storage.open(key, "rb") as handle:
                pixels = np.asarray(Image.open(handle).convert("RGB"), dtype=np.int16)
            # The watermark's light text stands out of the (mid-grey) backdrop at every size.
            top = pixels[: pixels.shape[0] // 4]
            assert (top.min(axis=-1) > 170).mean() > 0.005, key
    with pytest.raises(ServiceError, match="no headshot credits left"):
        look_preview_create(company=company, actor=tenant_a.admin, version=version,
                            selfie=selfie)


@pytest.mark.django_db(transaction=True)
def test_the_ledger_refuses_updates_and_deletes_on_postgresql(tenant_a, billing_on):
    entry = credits_adjust(company=tenant_a.company, amount=5, reason="pack", actor=None)
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditEntry.objects.for_company(tenant_a.company).filter(pk=entry.pk).update(amount=500)
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditEntry.objects.for_company(tenant_a.company).filter(pk=entry.pk).delete()
    assert credit_balance(company=tenant_a.company) == 5


@pytest.mark.django_db
def test_low_balance_mails_the_admins(tenant_a, billing_on, settings,
                                      django_capture_on_commit_callbacks):
    settings.LOW_BALANCE_CREDITS = 1
    company = tenant_a.company
    credits_adjust(company=company, amount=2, reason="two", actor=None)
    version = approved_look(company)
    job = GenerationJob.objects.create(
        company=company, membership=tenant_a.member, kind=GenerationJob.Kind.SINGLE_SELFIE,
        look_version=version, backend="offline", seeds=[1])
    with django_capture_on_commit_callbacks(execute=True):
        credits_reserve(company=company, job=job)
    recipients = {m.to[0] for m in mail.outbox if "credit" in m.subject}
    assert recipients == {tenant_a.owner.user.email, tenant_a.admin.user.email}
