"""A real Celery worker on Redis, killed in the middle of a job.

The job's message was taken but never acknowledged (acks_late), so after the
broker's visibility timeout another worker gets it, waits out the dead
worker's lease, and finishes what is missing: the job ends ready exactly once,
with one candidate per seed and no duplicates.
"""

from __future__ import annotations

import time

import pytest

from config.celery import app
from generation.models import Candidate, GenerationJob, ReplicatePrediction
from generation.services.jobs import job_create
from tests.fakes.replicate import FakeReplicate

from .conftest import redis_clear_ours
from .faces import face_bytes
from .helpers import approved_look, consent_for, selfie_for
from .workers import Worker, replicate_through, stop_all, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_killed_mid_job_leaves_it_finished_once(tenant_a, live_server, settings,
                                                          tmp_path):
    fake = FakeReplicate(token="r8_kill_test").start()
    fake.create_delay = 1.0  # each create holds its worker for a second: time to kill it
    env = replicate_through(fake, settings=settings, live_server=live_server,
                            tmp_path=tmp_path)
    approved_look(tenant_a.company)
    consent_for(tenant_a.member)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))

    # Messages left in the test broker by an earlier, interrupted run would be redelivered
    # here and muddle the count.
    redis_clear_ours()
    first = Worker("kill-a", env)
    second = None
    try:
        first.wait_ready()
        # From here on tasks go through Redis to the real worker, webhooks included.
        app.conf.task_always_eager = False
        job = job_create(company=tenant_a.company, membership=tenant_a.member,
                         requested_by=tenant_a.member.user)
        assert job.backend == "replicate"
        wait_until(lambda: fake.creates >= 2, 30, "two predictions")
        first.kill()
        # Redis hands an unacknowledged message out again once its visibility timeout has
        # passed, and a starting worker looks for such messages once (then only every few
        # minutes): start the next worker after it.
        time.sleep(3.5)
        recorded = ReplicatePrediction.objects.for_company(tenant_a.company).filter(job=job)
        assert recorded.count() < len(job.seeds)  # killed mid-way

        second = Worker("kill-b", env)
        second.wait_ready()
        wait_until(lambda: GenerationJob.objects.for_company(tenant_a.company).get(pk=job.pk)
              .status == GenerationJob.Status.READY, 60, "the job to finish",
              explain=lambda: "".join(second.lines[-40:]) + "\n".join(
                  f"{d.event} {d.status} -> {d.response_status} {d.error}"
                  for d in fake.deliveries))
    finally:
        app.conf.task_always_eager = True
        stop_all(first, second)
        fake.stop()

    job.refresh_from_db()
    seeds = list(Candidate.objects.for_company(tenant_a.company).filter(job=job)
                 .values_list("seed", flat=True))
    assert sorted(seeds) == sorted(job.seeds)  # one per seed, none twice
    assert sorted(recorded.values_list("seed", flat=True)) == sorted(job.seeds)
    assert job.attempts >= 2 and job.finished_at is not None
