"""Single-selfie jobs through the real replicate client, against a local fake of its API.

Webhooks travel over HTTP from the fake to the live Django server, so signature
checks, de-duplication and the tasks they trigger all run for real.
"""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.test import Client

from generation.models import Candidate, GenerationJob, ReplicatePrediction, ReplicateWebhook
from generation.services.jobs import job_create
from generation.tasks import poll_predictions
from privacy.models import DeletionReceipt

from .helpers import db_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)
Status = GenerationJob.Status


def _wait(job: GenerationJob, status: str, timeout: float = 45.0) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job stayed {job.status}, expected {status}")


def _start(member) -> GenerationJob:
    return job_create(company=member.company, membership=member, requested_by=member.user)


def _candidates(job) -> list[tuple[int, int]]:
    return sorted(Candidate.objects.for_company(job.company_id).filter(job=job)
                  .values_list("seed", "output_index"))


def test_a_job_runs_through_replicate_and_its_webhooks(ready_member, fake_replicate):
    job = _start(ready_member)
    assert job.backend == "replicate" and job.backend_reason == ""
    _wait(job, Status.READY)
    assert _candidates(job) == sorted((seed, 0) for seed in job.seeds)
    assert fake_replicate.creates == 4
    # The selfie travelled as a data URI, never as a public link.
    create = fake_replicate.requests_to("POST", "/v1/models/")[0]
    assert create.json["input"]["input_image"].startswith("data:image/jpeg;base64,")
    assert create.json["webhook"].endswith("/webhooks/replicate/")
    # Outputs were copied into our storage: expiring them at Replicate changes nothing.
    fake_replicate.expire_outputs()
    candidate = Candidate.objects.for_company(job.company_id).filter(job=job, visible=True).first()
    client = Client()
    client.force_login(ready_member.user)
    assert client.get(f"/c/alpha/candidates/{candidate.pk}/image/").status_code == 200
    ready_member.refresh_from_db()
    assert ready_member.status == "review"
    assert any("ready to choose" in m.subject for m in mail.outbox)


def test_a_dropped_webhook_is_recovered_by_polling(ready_member, fake_replicate, settings):
    fake_replicate.drop_webhooks = True
    job = _start(ready_member)
    assert fake_replicate.wait_for(
        lambda: all(fake_replicate.prediction(p)["status"] == "succeeded"
                    for p in fake_replicate.prediction_ids()) and
        len(fake_replicate.prediction_ids()) == 4)
    job.refresh_from_db()
    assert job.status == Status.RUNNING and _candidates(job) == []
    settings.REPLICATE_POLL_AFTER_SECONDS = 0
    assert poll_predictions() == 4
    _wait(job, Status.READY)
    assert len(_candidates(job)) == 4


def test_duplicated_and_reordered_webhooks_add_nothing_twice(ready_member, fake_replicate):
    fake_replicate.duplicate_webhooks = True
    fake_replicate.reorder_webhooks = True
    job = _start(ready_member)
    _wait(job, Status.READY)
    assert fake_replicate.wait_for(lambda: len(fake_replicate.deliveries) >= 16)
    time.sleep(0.5)  # let the late, stale deliveries land
    assert _candidates(job) == sorted((seed, 0) for seed in job.seeds)
    assert ReplicateWebhook.objects.count() == 8  # 4 predictions × (start, completed)
    job.refresh_from_db()
    assert job.status == Status.READY
    statuses = set(ReplicatePrediction.objects.for_company(job.company_id).values_list(
        "status", flat=True))
    assert statuses == {"succeeded"}


def test_a_429_storm_loses_no_job(ready_member, fake_replicate):
    fake_replicate.fail_next(6, 429, retry_after=0.05)
    job = _start(ready_member)
    _wait(job, Status.READY)
    assert len(_candidates(job)) == 4
    assert len(fake_replicate.requests_to("POST", "/v1/models/")) == 4 + 6
    assert fake_replicate.creates == 4


def test_a_forged_signature_is_refused_and_changes_nothing(ready_member, fake_replicate):
    fake_replicate.mode = "manual"
    job = _start(ready_member)
    # The "start" deliveries (genuine) are handled first.
    assert fake_replicate.wait_for(lambda: sum(1 for d in fake_replicate.deliveries
                                               if d.response_status) == 4)
    prediction_id = fake_replicate.prediction_ids()[0]
    fake_replicate.forge_signature = True
    before = db_fingerprint()
    fake_replicate.complete(prediction_id)
    completed = lambda: [d for d in fake_replicate.deliveries  # noqa: E731
                         if d.event == "completed" and d.response_status]
    assert fake_replicate.wait_for(lambda: completed())
    assert {d.response_status for d in completed()} == {400}
    assert db_fingerprint() == before
    job.refresh_from_db()
    assert job.status == Status.RUNNING


def test_withdrawing_consent_cancels_the_running_job_at_replicate(ready_member, fake_replicate):
    fake_replicate.mode = "manual"  # predictions stay running until told otherwise
    job = _start(ready_member)
    assert fake_replicate.wait_for(lambda: fake_replicate.creates == len(job.seeds))
    jobs = GenerationJob.objects.for_company(job.company_id)
    assert fake_replicate.wait_for(
        lambda: len(jobs.get(pk=job.pk).external_ids) == len(job.seeds))
    job.refresh_from_db()
    client = Client()
    client.force_login(ready_member.user)

    response = client.post(f"/c/{ready_member.company.slug}/consent/withdraw/",
                           {"confirm": "yes"})
    assert response.status_code == 302
    # Cancelled, then erased with everything else of the person's (the privacy task runs
    # on commit, at once in this test's eager Celery).
    assert not GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).exists()
    assert DeletionReceipt.objects.for_company(job.company_id).filter(
        object_ref=f"job:{job.pk}", rule="erasure.consent_withdrawn").exists()
    cancelled = {r.path.split("/")[3] for r in
                 fake_replicate.requests_to("POST", "/v1/predictions/")
                 if r.path.endswith("/cancel")}
    assert cancelled == set(job.external_ids.values())
    assert {fake_replicate.prediction(p)["status"] for p in cancelled} == {"canceled"}
