"""Generation never runs in a request, on the embedded default too.

The embedded default (config/settings/local.py) queues tasks through kombu's filesystem
transport, a folder that needs no server, to a real Celery worker process that
``platform/bin/demo`` starts beside the web server. Starting headshots answers at once
with the job queued; the page follows the job through a JSON status endpoint (the person
and the company's admins only); a worker process on that broker makes the photos.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from kombu import pools as kombu_pools

from config.celery import app
from generation.models import Candidate, GenerationJob
from tests.factories import MembershipFactory, UserFactory

from .faces import face_bytes
from .helpers import approved_look, selfie_for

ROOT = Path(__file__).resolve().parents[1]
QUEUES = "default,replicate,gpu,offline,privacy"


def _url(name: str, company, **kwargs) -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": company.slug, **kwargs})


def _reset_broker_pools() -> None:
    """Drop the producer's cached connections, so the next message uses the broker now
    configured (Celery keeps them for the life of the process)."""
    # app.pool is kombu's global pool for the broker's URL: clear the registry too, or the
    # Redis producers cached there keep a pool closed here ("Acquire on closed pool" in the
    # next test that sends to Redis, e.g. test_stalled_jobs).
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def filesystem_broker(folder: Path) -> Iterator[Path]:
    """This process queues tasks into ``folder`` as the embedded default's web server does
    (the same transport and folders as config/settings/local.py); yields the queue folder."""
    for sub in ("queue", "control", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.task_always_eager
    conf.broker_url = "filesystem://"
    conf.broker_transport_options = {
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed")}
    conf.task_always_eager = False
    _reset_broker_pools()
    try:
        yield folder / "queue"
    finally:
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
        _reset_broker_pools()


@pytest.fixture
def ready_member(tenant_a, settings, tmp_path):
    """A member with an approved look and a usable selfie; files in a folder a worker
    process can share."""
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""  # the embedded default: no Replicate
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")}}}
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    return tenant_a.member


def _queued_messages(queue_folder: Path, queue: str) -> list[str]:
    return [p.name for p in queue_folder.iterdir() if p.name.endswith(f".{queue}.msg")]


@pytest.mark.django_db(transaction=True)
def test_starting_headshots_answers_at_once_and_only_queues_the_job(tenant_a, ready_member,
                                                                     tmp_path):
    employee = tenant_a.client_for(ready_member)
    employee.get(_url("headshots", tenant_a.company))  # a first request's one-off costs
    with filesystem_broker(tmp_path / "broker") as queue_folder:
        started = time.monotonic()
        response = employee.post(_url("headshots_start", tenant_a.company))
        elapsed = time.monotonic() - started
    assert response.status_code == 302
    assert elapsed < 1.0, f"starting took {elapsed:.2f} s"
    job = GenerationJob.objects.for_company(tenant_a.company).get(membership=ready_member)
    # Nothing was made in the request: the job waits in the broker's folder for a worker.
    assert job.status == GenerationJob.Status.QUEUED and job.started_at is None
    assert not Candidate.objects.for_company(tenant_a.company).filter(job=job).exists()
    assert len(_queued_messages(queue_folder, "offline")) == 1
    # The page it lands on follows the job without reloading (a static script, no inline).
    page = employee.get(response["Location"]).content.decode()
    assert _url("job_status", tenant_a.company, pk=job.pk) in page
    assert "js/progress.js" in page and "<script>" not in page
    assert "Queued" in page


@pytest.mark.django_db
def test_job_status_is_for_the_person_and_the_admins_only(tenant_a, tenant_b):
    version = approved_look(tenant_a.company)
    job = GenerationJob.objects.create(
        company=tenant_a.company, membership=tenant_a.member, look_version=version,
        kind=GenerationJob.Kind.CONSISTENT_BATCH, backend=GenerationJob.Backend.GPU,
        seeds=[1, 2, 3])
    url = _url("job_status", tenant_a.company, pk=job.pk)
    colleague = MembershipFactory(company=tenant_a.company, team=tenant_a.team,
                                  user=UserFactory(email="colleague@alpha.example"))

    for allowed in (tenant_a.member, tenant_a.owner, tenant_a.admin):
        answer = tenant_a.client_for(allowed).get(url)
        assert answer.status_code == 200
        assert answer.json()["stage"] == "queued" and answer.json()["open"] is True
    assert tenant_a.client_for(colleague).get(url).status_code == 404
    assert tenant_b.client_for(tenant_b.owner).get(url).status_code == 404
    # Under the outsider's own company the job does not exist either.
    assert tenant_b.client_for(tenant_b.owner).get(
        _url("job_status", tenant_b.company, pk=job.pk)).status_code == 404

    # Each stage in words: training (the GPU's personal model), generating, scoring, ready.
    client = tenant_a.client_for(tenant_a.member)
    for status, progress, stage in (
            ("running", {"phase": "training", "step": 3, "total": 50}, "training"),
            ("running", {"phase": "generating", "step": 1, "total": 3}, "generating"),
            ("scoring", {}, "scoring"), ("ready", {}, "ready")):
        GenerationJob.objects.for_company(tenant_a.company).filter(pk=job.pk).update(
            status=status, progress=progress)
        answer = client.get(url).json()
        assert answer["stage"] == stage, answer
        assert answer["stage_label"]
    assert answer["open"] is False


class Worker:
    """A real Celery worker process on the embedded default's settings."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUES,
             "-c", "1", "--pool", "prefork", "-O", "fair", "--without-mingle",
             "--without-gossip", "-n", "embedded@%h", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("worker did not start:\n" + self.tail())

    def tail(self) -> str:
        return "".join(self.lines[-60:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_on_the_filesystem_broker_makes_the_photos(tenant_a, ready_member,
                                                                    tmp_path):
    """The embedded default end to end: its settings (config.settings.local: no Redis, the
    filesystem broker), a separate worker process, this test's database and files."""
    broker = tmp_path / "broker"
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER",
                          "DATABASE_URL", "REPLICATE_API_TOKEN")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
            **connection.settings_dict),
        "EMBEDDED_BROKER_DIR": str(broker),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "OFFLINE_SEEDS_PER_JOB": "2",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    })
    employee = tenant_a.client_for(ready_member)
    with filesystem_broker(broker):
        worker = Worker(env)
        try:
            worker.wait_ready()
            response = employee.post(_url("headshots_start", tenant_a.company))
            assert response.status_code == 302
            job = GenerationJob.objects.for_company(tenant_a.company).get(
                membership=ready_member)
            # The request only queued it (its timing: the test above).
            assert job.status != GenerationJob.Status.READY
            url = _url("job_status", tenant_a.company, pk=job.pk)
            stages = []
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                answer = employee.get(url).json()
                if not stages or stages[-1] != answer["stage"]:
                    stages.append(answer["stage"])
                if not answer["open"] or worker.process.poll() is not None:
                    break
                time.sleep(0.5)
            assert answer["stage"] == "ready", f"{stages}\n{worker.tail()}"
            # The task ends just after the job does (its e-mails): made by the worker.
            deadline = time.monotonic() + 60
            while "succeeded" not in "".join(worker.lines) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.stop()
    assert stages[0] == "queued"
    assert answer["made"] == 2 and len(answer["candidates"]) >= 1
    assert "succeeded" in "".join(worker.lines), worker.tail()  # made by the worker
