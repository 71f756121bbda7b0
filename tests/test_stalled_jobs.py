"""Stalled-job recovery: a job no worker holds is sent again at most once per lease, counted,
and given up (refunded) after a bound; a busy GPU queue does not fill with copies."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from billing.models import CreditEntry
from billing.services import credit_balance, credits_adjust, credits_reserve
from config.celery import app
from generation.models import GenerationJob
from generation.services.recovery import requeue_wait
from generation.tasks import requeue_stalled_jobs

from .conftest import _redis
from .helpers import approved_look

Status = GenerationJob.Status
BEAT = timedelta(minutes=2)  # config/celery.py runs the recovery sweep this often


@pytest.fixture
def billing_on(settings):
    settings.BILLING_ENABLED = True
    settings.CREDITS_PER_JOB = 1


@pytest.fixture
def broker(settings):
    """Messages go to the test's Redis broker instead of running in-process, so the queue
    can be counted as a worker would find it."""
    app.conf.task_always_eager = False
    yield lambda queue: _redis().llen(f"{django_settings.REDIS_KEY_PREFIX}:{queue}")
    app.conf.task_always_eager = True


def _gpu_jobs(tenant, count: int) -> list[GenerationJob]:
    version = approved_look(tenant.company)
    credits_adjust(company=tenant.company, amount=count, reason="test credits", actor=None)
    jobs = []
    for _ in range(count):
        job = GenerationJob.objects.create(
            company=tenant.company, membership=tenant.member, look_version=version,
            kind=GenerationJob.Kind.CONSISTENT_BATCH, backend="gpu", seeds=[1, 2])
        credits_reserve(company=tenant.company, job=job)
        jobs.append(job)
    return jobs


def _beats(start, duration: timedelta) -> list[int]:
    """Run the beat task every two minutes for ``duration``; what each run sent."""
    sent = []
    moment = start
    while moment <= start + duration:
        with time_machine.travel(moment, tick=False):
            sent.append(requeue_stalled_jobs())
        moment += BEAT
    return sent


@pytest.mark.django_db(transaction=True)
def test_a_busy_gpu_queue_gets_at_most_one_copy_per_job_and_lease(tenant_a, settings,
                                                                   billing_on, broker):
    settings.GENERATION_LEASE_SECONDS = 300
    settings.GENERATION_QUEUED_GRACE_SECONDS = 600
    settings.GENERATION_MAX_REQUEUES = 50  # not reached here: only the pace is measured
    jobs = _gpu_jobs(tenant_a, 15)
    start = timezone.now()
    hours = timedelta(hours=2)
    sent = _beats(start, hours)

    # No worker ever took them: 60 beat runs, and the queue holds only the re-sends, each
    # job's spaced one lease, then two, four... apart (the old sweep sent 15 every run).
    assert len(sent) == 61
    assert broker("gpu") == sum(sent)
    leases = hours / timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Status.QUEUED
        assert 1 <= job.requeues <= leases
        # Grace 10 min, then waits of 5, 10, 20, 40 min: sent at 10, 15, 25, 45, 85 min.
        assert job.requeues == 5
    assert sum(sent) == 15 * 5
    # A second sweep in the same moment sends nothing more.
    with time_machine.travel(start + hours, tick=False):
        assert requeue_stalled_jobs() == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_job_whose_worker_died_is_sent_once_per_lease(tenant_a, settings, broker):
    settings.GENERATION_LEASE_SECONDS = 300
    (job,) = _gpu_jobs(tenant_a, 1)
    now = timezone.now()
    GenerationJob.objects.for_company(tenant_a.company).filter(pk=job.pk).update(
        status=Status.RUNNING, lease_until=now - timedelta(seconds=1), attempts=1)
    with time_machine.travel(now, tick=False):
        assert requeue_stalled_jobs() == 1
    with time_machine.travel(now + timedelta(minutes=4), tick=False):
        assert requeue_stalled_jobs() == 0  # the copy sent 4 minutes ago may still come
    with time_machine.travel(now + timedelta(minutes=5, seconds=1), tick=False):
        assert requeue_stalled_jobs() == 1
    job.refresh_from_db()
    assert (job.requeues, job.status) == (2, Status.RUNNING)
    assert broker("gpu") == 2


@pytest.mark.django_db(transaction=True)
def test_a_job_no_worker_takes_is_given_up_and_refunded_after_the_bound(
        tenant_a, settings, billing_on, broker):
    settings.GENERATION_LEASE_SECONDS = 300
    settings.GENERATION_MAX_REQUEUES = 3
    queued, running = _gpu_jobs(tenant_a, 2)
    start = timezone.now()
    GenerationJob.objects.for_company(tenant_a.company).filter(pk=running.pk).update(
        status=Status.RUNNING, lease_until=start - timedelta(seconds=1), attempts=1)
    assert credit_balance(company=tenant_a.company) == 0
    sent = _beats(start, timedelta(hours=2))

    assert sum(sent) == 2 * 3 and broker("gpu") == 6  # three copies each, no more
    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == Status.FAILED and "No worker took this job" in queued.failure_reason
    assert running.status == Status.DEAD and "stopped answering" in running.failure_reason
    assert "not charged" in queued.failure_reason and running.requeues == 3
    # Both reservations came back, once.
    assert credit_balance(company=tenant_a.company) == 2
    assert CreditEntry.objects.for_company(tenant_a.company).filter(
        kind=CreditEntry.Kind.REFUND).count() == 2
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        assert requeue_stalled_jobs() == 0


def test_the_wait_between_re_sends_doubles_from_one_lease_to_a_cap(settings):
    settings.GENERATION_LEASE_SECONDS = 300
    assert [requeue_wait(n) for n in range(4)] == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert requeue_wait(40) == timedelta(hours=6)
