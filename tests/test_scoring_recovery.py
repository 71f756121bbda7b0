"""A worker that dies while scoring a job: scoring holds a lease like running does, so the job
is neither taken from a live scorer nor left "being checked" for good. The redelivered
message (or the stalled-job sweep) takes it over once the lease runs out and finishes it
from the stored photos, making none again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Candidate, GenerationJob
from generation.services.jobs import job_create
from generation.services.recovery import jobs_recover_stalled
from generation.tasks import run_offline_job

from .faces import face_bytes
from .helpers import approved_look, selfie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Status = GenerationJob.Status


@pytest.fixture
def scored_job(tenant_a, settings) -> GenerationJob:
    """A single-selfie job run to the end on the offline backend."""
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    job = job_create(company=tenant_a.company, membership=tenant_a.member,
                     kind=GenerationJob.Kind.SINGLE_SELFIE, requested_by=tenant_a.member.user)
    job.refresh_from_db()
    assert job.status == Status.READY
    return job


def _died_while_scoring(job: GenerationJob, *, lease_left: timedelta) -> None:
    """As a worker killed in the middle of ``job_score`` leaves the row."""
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.SCORING, finished_at=None, lease_until=timezone.now() + lease_left)


def test_scoring_holds_a_lease_and_a_live_scorer_keeps_its_job(scored_job):
    assert scored_job.lease_until is None  # ready: the lease is released
    _died_while_scoring(scored_job, lease_left=timedelta(minutes=5))
    assert run_offline_job.apply(args=[scored_job.pk]).get() == "not claimable"
    assert jobs_recover_stalled().sent == 0
    scored_job.refresh_from_db()
    assert scored_job.status == Status.SCORING


def test_a_redelivered_message_finishes_a_job_whose_scorer_died(scored_job):
    _died_while_scoring(scored_job, lease_left=timedelta(seconds=-1))
    assert run_offline_job.apply(args=[scored_job.pk]).get() == Status.READY


def test_a_job_whose_scorer_died_is_finished_from_its_stored_photos(scored_job):
    photos = set(Candidate.objects.for_company(scored_job.company_id).filter(
        job=scored_job).values_list("pk", flat=True))
    attempts = scored_job.attempts
    _died_while_scoring(scored_job, lease_left=timedelta(seconds=-1))

    # The sweep sees it (its message may be lost) and sends it again; the tasks run eagerly
    # here, on the sweep's commit, so that copy has finished it.
    assert jobs_recover_stalled().sent == 1
    scored_job.refresh_from_db()
    assert scored_job.status == Status.READY and scored_job.lease_until is None
    assert scored_job.attempts == attempts + 1
    assert run_offline_job.apply(args=[scored_job.pk]).get() == "not claimable"  # a late copy
    # Scored again, not made again.
    assert set(Candidate.objects.for_company(scored_job.company_id).filter(
        job=scored_job).values_list("pk", flat=True)) == photos
