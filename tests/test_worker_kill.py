"""A real Celery worker on Redis, killed in the middle of a job.

The job's message was taken but never acknowledged (acks_late), so after the
broker's visibility timeout another worker gets it, waits out the dead
worker's lease, and finishes what is missing: the job ends ready exactly once,
with one candidate per seed and no duplicates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app
from generation.models import Candidate, GenerationJob, ReplicatePrediction
from generation.services.jobs import job_create
from tests.fakes.replicate import FakeReplicate

from .conftest import redis_clear_ours
from .faces import face_bytes
from .helpers import approved_look, consent_for, selfie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


class Worker:
    def __init__(self, name: str, env: dict[str, str], *, queue: str = "replicate",
                 concurrency: int = 1) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
             "-c", str(concurrency), "--pool", "prefork", "-O", "fair", "--without-mingle",
             "--without-gossip", "-n", f"{name}@%h", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("worker did not start:\n" + "".join(self.lines[-40:]))

    def kill(self) -> None:
        """SIGKILL the whole worker, parent and child: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(tmp_path: Path, **more: str) -> dict[str, str]:
    """The environment of a real worker process: this test's database and files, tasks
    through the broker, short leases and visibility timeout so a kill shows quickly."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
            **connection.settings_dict),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "GENERATION_LEASE_SECONDS": "4",
        "TEST_MEDIA_ROOT": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **more,
    }


def _wait(predicate, timeout: float, what: str, explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{explain()}")


def test_a_worker_killed_mid_job_leaves_it_finished_once(tenant_a, live_server, settings,
                                                          tmp_path):
    fake = FakeReplicate(token="r8_kill_test").start()
    fake.create_delay = 1.0  # each create holds its worker for a second: time to kill it
    # The worker's settings name http://testserver as the site; deliver to the live server.
    fake.webhook_target = live_server.url + "/webhooks/replicate/"
    settings.REPLICATE_BASE_URL = fake.base_url
    settings.REPLICATE_API_TOKEN = fake.token
    settings.REPLICATE_WEBHOOK_SECRET = fake.webhook_secret
    settings.SITE_URL = live_server.url
    settings.GENERATION_LEASE_SECONDS = 4
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)}}}
    approved_look(tenant_a.company)
    consent_for(tenant_a.member)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))

    env = worker_env(tmp_path, REPLICATE_BASE_URL=fake.base_url,
                     REPLICATE_API_TOKEN=fake.token,
                     REPLICATE_WEBHOOK_SECRET=fake.webhook_secret, SITE_URL=live_server.url)
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
        _wait(lambda: fake.creates >= 2, 30, "two predictions")
        first.kill()
        # Redis hands an unacknowledged message out again once its visibility timeout has
        # passed, and a starting worker looks for such messages once (then only every few
        # minutes): start the next worker after it.
        time.sleep(3.5)
        recorded = ReplicatePrediction.objects.for_company(tenant_a.company).filter(job=job)
        assert recorded.count() < len(job.seeds)  # killed mid-way

        second = Worker("kill-b", env)
        second.wait_ready()
        _wait(lambda: GenerationJob.objects.for_company(tenant_a.company).get(pk=job.pk)
              .status == GenerationJob.Status.READY, 60, "the job to finish",
              explain=lambda: "".join(second.lines[-40:]) + "\n".join(
                  f"{d.event} {d.status} -> {d.response_status} {d.error}"
                  for d in fake.deliveries))
    finally:
        app.conf.task_always_eager = True
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        fake.stop()

    job.refresh_from_db()
    seeds = list(Candidate.objects.for_company(tenant_a.company).filter(job=job)
                 .values_list("seed", flat=True))
    assert sorted(seeds) == sorted(job.seeds)  # one per seed, none twice
    assert sorted(recorded.values_list("seed", flat=True)) == sorted(job.seeds)
    assert job.attempts >= 2 and job.finished_at is not None
