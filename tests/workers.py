"""Real Celery worker processes for the tests that kill them (test_worker_kill.py,
test_worker_faults.py, test_gpu_worker_kill.py, test_maintenance_resume.py) and for the
embedded default's end-to-end test (test_embedded_worker.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

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

    def tail(self, count: int = 40) -> str:
        return "".join(self.lines[-count:])

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("worker did not start:\n" + self.tail(60))

    def kill(self) -> None:
        """SIGKILL the whole worker, parent and child: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def stop_all(*workers: Worker | None) -> None:
    """Stop every worker that was started (a ``None`` is one that never was)."""
    for worker in workers:
        if worker is not None:
            worker.stop()


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


def files_in(settings, folder: Path) -> None:
    """Keep this test's files on disk in ``folder``, where a worker process (given
    ``TEST_MEDIA_ROOT``) finds them too."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(folder)}}}


def replicate_through(fake, *, settings, live_server, tmp_path: Path,
                      **more: str) -> dict[str, str]:
    """Point this process and a worker's environment (returned, with ``more``) at the
    Replicate ``fake``, its webhooks delivered to the live server."""
    # The worker's settings name http://testserver as the site; deliver to the live server.
    fake.webhook_target = live_server.url + "/webhooks/replicate/"
    settings.REPLICATE_BASE_URL = fake.base_url
    settings.REPLICATE_API_TOKEN = fake.token
    settings.REPLICATE_WEBHOOK_SECRET = fake.webhook_secret
    settings.SITE_URL = live_server.url
    settings.GENERATION_LEASE_SECONDS = 4
    files_in(settings, tmp_path)
    return worker_env(tmp_path, REPLICATE_BASE_URL=fake.base_url,
                      REPLICATE_API_TOKEN=fake.token,
                      REPLICATE_WEBHOOK_SECRET=fake.webhook_secret, SITE_URL=live_server.url,
                      **more)


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               explain: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{explain()}")
