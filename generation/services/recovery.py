"""Stalled-job recovery: jobs no worker holds are sent again, sparingly, then given up.

A job is stalled when it runs, or is being scored, with an expired lease (its worker died
and its message may be gone with it) or has been queued a long time (its message may have
been lost, or the queue is simply busy). Sending its message again is cheap when it was lost
and harmful when it was not: with no free worker, a beat that re-sends every stalled job on
every run fills the queue with copies. So each job is sent again at most once per lease, each
wait twice the last (capped), counted on the job (``requeues``, ``requeued_at``); after
``GENERATION_MAX_REQUEUES`` the job is given up and its credits are released.

A copy that reaches a worker after another copy is harmless: claiming is one conditional
UPDATE (generation/jobs.py), so only one of them runs the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.tasks import task_enqueue

from ..models import GenerationJob
from ..routing import backend_route
from .jobs import job_dead_letter, job_fail

log = logging.getLogger(__name__)
Status = GenerationJob.Status
# The longest wait between two re-sends of one job, however many came before.
MAX_REQUEUE_WAIT = timedelta(hours=6)


@dataclass
class RecoveryResult:
    sent: int = 0
    given_up: int = 0


def requeue_wait(requeues: int) -> timedelta:
    """How long after its last re-send a still-stalled job may be sent again: one lease,
    doubled for every re-send before it, at most ``MAX_REQUEUE_WAIT``."""
    lease = timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    return min(lease * (2 ** min(requeues, 16)), max(MAX_REQUEUE_WAIT, lease))


def _stalled(now: datetime) -> Q:
    queued_since = now - timedelta(seconds=settings.GENERATION_QUEUED_GRACE_SECONDS)
    lease = timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    return (Q(status=Status.RUNNING, lease_until__lt=now)
            | Q(status=Status.SCORING, lease_until__lt=now)
            | Q(status=Status.SCORING, lease_until__isnull=True, updated_at__lt=now - lease)
            | Q(status=Status.QUEUED, updated_at__lt=queued_since))


def jobs_recover_stalled(*, limit: int = 200) -> RecoveryResult:
    """One run of the recovery sweep (beat: every two minutes)."""
    now = timezone.now()
    result = RecoveryResult()
    # A maintenance sweep over every company's jobs, by design.
    candidates = (GenerationJob.objects.unscoped().filter(_stalled(now))
                  .order_by("updated_at", "pk")
                  .values_list("pk", "company_id", "status", "requeues", "requeued_at"))
    for pk, company_id, status, requeues, requeued_at in candidates[:limit]:
        if requeued_at is not None and now - requeued_at < requeue_wait(requeues - 1):
            continue  # sent again within its wait: that copy may still be in the queue
        if requeues >= settings.GENERATION_MAX_REQUEUES:
            if _give_up(company_id, pk, requeues=requeues):
                result.given_up += 1
            continue
        if _send_again(company_id, pk, status=status, requeues=requeues, now=now):
            result.sent += 1
    return result


def _send_again(company_id: int, pk: int, *, status: str, requeues: int,
                now: datetime) -> bool:
    with transaction.atomic():
        # Conditional on what was read: two sweeps running at once send one copy, not two.
        claimed = GenerationJob.objects.for_company(company_id).filter(
            pk=pk, status=status, requeues=requeues).update(
            requeues=F("requeues") + 1, requeued_at=now)
        if not claimed:
            return False
        job = GenerationJob.objects.for_company(company_id).only("backend").get(pk=pk)
        route = backend_route(backend=job.backend)
        task_enqueue(route.task, pk, queue=route.queue)
    log.info("job %s (%s) sent again (re-send %s)", pk, status, requeues + 1)
    return True


def _give_up(company_id: int, pk: int, *, requeues: int) -> bool:
    job = GenerationJob.objects.for_company(company_id).select_related("company").get(pk=pk)
    waited = timezone.now() - job.queued_at
    hours = max(1, round(waited.total_seconds() / 3600))
    if job.status == Status.RUNNING:
        # Its workers kept vanishing under it: parked as a dead letter, shown to admins.
        job_dead_letter(job, reason=(
            f"Stopped: its worker stopped answering and it was sent again {requeues} times "
            f"over about {hours} h without finishing. You were not charged."))
    elif job.status == Status.SCORING:
        job_fail(job, reason=(
            f"Stopped: its photos were made, but checking them was interrupted again and "
            f"again (it was sent again {requeues} times over about {hours} h). You were not "
            "charged."))
    else:
        job_fail(job, reason=(
            f"No worker took this job in about {hours} h (it was sent again {requeues} "
            "times), so it was stopped and you were not charged. Please try again later."))
    job.refresh_from_db()
    return job.status in (Status.DEAD, Status.FAILED)
