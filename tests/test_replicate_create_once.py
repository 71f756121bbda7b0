"""A Replicate prediction is paid for once per seed, even when the worker dies after
Replicate answered the create and before the prediction was recorded: the intent is
recorded first, and the retry adopts the prediction it finds instead of creating another."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from generation.models import Candidate, GenerationJob, ReplicatePrediction
from generation.services import jobs as job_services
from generation.services import replicate_create
from generation.services.jobs import job_create
from generation.tasks import run_replicate_job

pytestmark = pytest.mark.django_db(transaction=True)
Status = GenerationJob.Status


class WorkerDied(Exception):
    """Stands for SIGKILL between Replicate's answer and our commit."""


def _wait_ready(job: GenerationJob, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == Status.READY:
            return
        time.sleep(0.1)
    raise AssertionError(f"job stayed {job.status}")


@pytest.fixture
def undispatched_job(ready_member, monkeypatch):
    """A queued Replicate job whose task the test runs itself."""
    monkeypatch.setattr(job_services, "_dispatch", lambda job, route: None)
    job = job_create(company=ready_member.company, membership=ready_member,
                     requested_by=ready_member.user)
    assert job.backend == "replicate" and job.status == Status.QUEUED
    return job


def _die_on_record(monkeypatch, *, times: int) -> list[int]:
    """The worker dies in ``prediction_record`` the first ``times`` calls."""
    real = replicate_create.prediction_record
    calls: list[int] = []

    def dying(job, *, seed, prediction):
        calls.append(seed)
        if len(calls) <= times:
            raise WorkerDied
        return real(job, seed=seed, prediction=prediction)

    monkeypatch.setattr(replicate_create, "prediction_record", dying)
    return calls


def _lease_runs_out(job: GenerationJob) -> None:
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        lease_until=timezone.now())


@pytest.mark.parametrize("page_size", [100, 1])  # 1: the adopted one is pages back
def test_a_worker_dying_after_the_create_does_not_pay_twice(undispatched_job, fake_replicate,
                                                            monkeypatch, page_size):
    fake_replicate.list_page_size = page_size
    job = undispatched_job
    _die_on_record(monkeypatch, times=1)
    with pytest.raises(WorkerDied):
        run_replicate_job.apply(args=[job.pk])
    job.refresh_from_db()
    # Replicate made (and charges for) the first seed's prediction; we recorded only the
    # intent to make it.
    assert fake_replicate.creates == 1
    assert not ReplicatePrediction.objects.for_company(job.company_id).filter(job=job).exists()
    assert list(job.create_intents) == [str(job.seeds[0])]

    _lease_runs_out(job)
    assert run_replicate_job.apply(args=[job.pk]).result == "waiting"
    assert fake_replicate.creates == len(job.seeds)  # not one more
    recorded = ReplicatePrediction.objects.for_company(job.company_id).filter(job=job)
    assert sorted(recorded.values_list("prediction_id", flat=True)) == sorted(
        fake_replicate.prediction_ids())
    assert sorted(recorded.values_list("seed", flat=True)) == sorted(job.seeds)
    job.refresh_from_db()
    assert job.create_intents == {}
    _wait_ready(job)
    assert sorted(Candidate.objects.for_company(job.company_id).filter(job=job)
                  .values_list("seed", flat=True)) == sorted(job.seeds)


def test_a_create_that_never_reached_replicate_is_made_on_the_retry(undispatched_job,
                                                                     fake_replicate,
                                                                     monkeypatch):
    job = undispatched_job
    real = replicate_create.replicate_api.prediction_create
    died = []

    def dies_before_sending(**kwargs):
        if not died:
            died.append(kwargs["seed"])
            raise WorkerDied
        return real(**kwargs)

    monkeypatch.setattr(replicate_create.replicate_api, "prediction_create", dies_before_sending)
    with pytest.raises(WorkerDied):
        run_replicate_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert fake_replicate.creates == 0 and list(job.create_intents) == [str(job.seeds[0])]
    _lease_runs_out(job)
    assert run_replicate_job.apply(args=[job.pk]).result == "waiting"
    # The retry looked (one list request), found nothing, and made each seed once.
    assert len(fake_replicate.requests_to("GET", "/v1/predictions?")) + len(
        [r for r in fake_replicate.requests if r.path == "/v1/predictions"]) == 1
    assert fake_replicate.creates == len(job.seeds)
    _wait_ready(job)


def test_a_refused_create_leaves_no_intent_to_look_for(undispatched_job, fake_replicate):
    fake_replicate.fail_next(1, 422, detail="bad input")  # refused: nothing was made
    job = undispatched_job
    assert run_replicate_job.apply(args=[job.pk]).result == "rerouted"
    job.refresh_from_db()
    assert job.create_intents == {} and fake_replicate.creates == 0
