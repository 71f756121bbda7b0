"""Long maintenance tasks resume after their worker is killed, without waiting for the next
beat run: their messages are acknowledged only when done and handed back when the process
dies, and their chunks are idempotent, so the repeat finishes the work and does none twice."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from config.celery import app
from generation.models import Selfie
from privacy import sweeper
from privacy.models import DeletionReceipt
from privacy.tasks import sweep

from .helpers import image_bytes, selfie_for

RESUMABLE = ["privacy.sweep", "privacy.erase_person", "privacy.erase_company",
             "privacy.dsr_process"]


@pytest.mark.parametrize("name", RESUMABLE)
def test_long_maintenance_tasks_are_acknowledged_when_done_and_handed_back_on_a_kill(name):
    task = app.tasks[name]
    # The app acknowledges on receipt by default (config/celery.py); these override it.
    assert app.conf.task_acks_late is False
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


class Killed(BaseException):
    """Stands for SIGKILL in the middle of a chunk: nothing gets to clean up."""


def test_a_sweep_killed_mid_chunk_finishes_when_its_message_comes_back(tenant_a, local_backend,
                                                                       monkeypatch):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(7):
            selfie_for(tenant_a.member, data=image_bytes(color=(20 * n, 100, 200 - 20 * n)))
        clock.shift(timedelta(days=31))
        rules = sweeper.retention_rules()
        deleted: list[int] = []

        def dying_delete(rule):
            def delete(obj, reason):
                if len(deleted) == 4:  # the second chunk, half done
                    raise Killed
                rule.delete(obj, reason)
                deleted.append(obj.pk)
            return delete

        monkeypatch.setattr(sweeper, "retention_rules", lambda: [
            dataclasses.replace(rule, delete=dying_delete(rule), delete_many=None)
            if rule.name == "selfies.max_age" else rule for rule in rules])
        with pytest.raises(Killed):
            sweep.apply(kwargs={"limit": 3})
        # The first chunk committed; the second was rolled back with the process.
        left = Selfie.objects.for_company(tenant_a.company)
        assert left.count() == 4
        assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
            kind="selfie").count() == 3

        # The message was not acknowledged: the broker hands it out again, and the same
        # task finishes the work (its files too) with one receipt per selfie.
        monkeypatch.setattr(sweeper, "retention_rules", lambda: rules)
        assert sweep.apply(kwargs={"limit": 3}).get() >= 4
        assert not left.exists()
        assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
            kind="selfie").count() == 7
        assert sweep.apply(kwargs={"limit": 3}).get() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_sweep_worker_killed_mid_run_finishes_without_the_next_beat(tenant_a, settings,
                                                                           tmp_path):
    """A real worker on the privacy queue, its pool process SIGKILLed while the sweep works
    through one-selfie chunks: the message comes back at once and the sweep finishes."""
    import os
    import signal
    import subprocess
    import time

    from .conftest import redis_clear_ours
    from .workers import Worker, files_in, worker_env

    files_in(settings, tmp_path)
    count = 30
    for n in range(count):  # a person keeps at most 20: two people
        person = tenant_a.member if n % 2 else tenant_a.admin
        selfie_for(person, data=image_bytes(color=(n * 8, 100, 200 - n * 4)))
    selfies = Selfie.objects.for_company(tenant_a.company)
    selfies.update(created_at=timezone.now() - timedelta(days=40))
    redis_clear_ours()
    worker = Worker("sweep-kill", worker_env(tmp_path), queue="privacy")
    killed = []
    try:
        worker.wait_ready()
        app.conf.task_always_eager = False
        sweep.apply_async(kwargs={"limit": 1})
        deadline = time.monotonic() + 40
        while selfies.count() > count - 5:
            assert time.monotonic() < deadline, "".join(worker.lines[-30:])
            time.sleep(0.05)
        out = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True,
                             text=True, check=False).stdout
        for pid in map(int, out.split()):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        while selfies.exists():
            assert time.monotonic() < deadline, "".join(worker.lines[-30:])
            time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True
        worker.stop()
    assert killed
    assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
        kind="selfie").count() == count
