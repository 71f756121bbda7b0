"""Privacy tasks, all on the `privacy` queue (config/celery.py routes "privacy.*")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from core.anchoring import anchor_checkpoint
from core.rls import company_of, company_task, rls_bypass
from teams.models import Company, Membership

from .dsr import dsr_process as process
from .erasure import company_erase, person_erase
from .models import ConsentCheckpoint, ConsentHead, DataSubjectRequest
from .services import CONSENT_LOG
from .sweeper import retention_sweep

log = logging.getLogger(__name__)
# Storage and database hiccups are worth retrying; anything else is a bug to look at.
TRANSIENT = (OSError, OperationalError, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 10, "retry_backoff_max": 600,
         "retry_jitter": True, "max_retries": 10}
# Long work that must finish even when its worker is killed (the retention sweep, erasures,
# requests): acknowledged only once done, and handed back to the queue at once when the
# process running it dies (reject_on_worker_lost), instead of waiting for the next beat run
# (the sweep) or for no one (an erasure). Where the whole worker is killed, Redis hands the
# message out again after its visibility timeout, and the sweep's next beat run comes first.
# Each is idempotent in committed chunks (privacy/sweeper.py, privacy/erasure.py), so a
# chunk that was cut short and is run again deletes what is left, receipts nothing twice.
RESUMABLE = {**RETRY, "acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="privacy.sweep", **RESUMABLE)
@rls_bypass("maintenance: the retention sweep over every company")
def sweep(limit: int = 200) -> int:
    """One bounded chunk of the retention sweep; re-queues itself while chunks come back
    full. Beat starts it every 15 minutes."""
    result = retention_sweep(limit=limit)
    log.info("privacy sweep: %s deleted %s", result.total, dict(result.deleted))
    if result.more:
        if sweep.app.conf.task_always_eager:
            # Eager mode (tests, CELERY_TASK_ALWAYS_EAGER) would recurse: loop instead.
            total = result.total
            while result.more:
                result = retention_sweep(limit=limit)
                total += result.total
            return total
        sweep.apply_async(kwargs={"limit": limit})
    return result.total


@shared_task(name="privacy.erase_person", **RESUMABLE)
@company_task(lambda company_id, *args, **kwargs: company_id)
def erase_person(company_id: int, membership_id: int, rule: str) -> bool:
    company = Company.objects.filter(pk=company_id).first()
    membership = (Membership.objects.for_company(company_id).filter(pk=membership_id).first()
                  if company else None)
    if membership is None:
        return False  # already gone with everything it had (a leaver's erasure ran)
    person_erase(company=company, membership=membership, rule=rule)
    return True


@shared_task(name="privacy.erase_company", **RESUMABLE)
@company_task(lambda company_id, *args, **kwargs: company_id)
def erase_company(company_id: int) -> int:
    company = Company.objects.filter(pk=company_id, closed_at__isnull=False).first()
    return company_erase(company=company) if company else 0


@shared_task(name="privacy.dsr_process", **RESUMABLE)
@company_task(lambda request_id, *args, **kwargs: company_of(DataSubjectRequest, pk=request_id))
def dsr_process(request_id: int) -> str | None:
    company_id = (DataSubjectRequest.objects.unscoped()  # the task gets only the id
                  .filter(pk=request_id).values_list("company_id", flat=True).first())
    if company_id is None:
        return None
    request = process(company=Company.objects.get(pk=company_id), request_id=request_id)
    return request.status if request else None


@shared_task(name="privacy.consent_checkpoint", **RETRY)
@rls_bypass("maintenance: signed checkpoints of every company's consent log")
def consent_checkpoint() -> int:
    """Sign a checkpoint of every consent chain head that moved (beat: hourly)."""
    return anchor_checkpoint(ConsentHead, ConsentCheckpoint, log_name=CONSENT_LOG)
