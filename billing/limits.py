"""Where the rest of the platform asks billing for permission (see billing.services).

teams asks through core/limits.py ("may this company add a seat?"): ``register`` puts the
answer there in BillingConfig.ready(). generation, a layer above billing, calls the job
functions here around each job. With billing off (no Stripe key) every check passes.
"""

from __future__ import annotations

from core.limits import SEATS, limit_register
from teams.models import Company

from .services import (
    BillingLimitReached,
    JobRef,
    credits_reserve,
    credits_settle,
    free_preview_available,
    seats_check,
)

__all__ = ["BillingLimitReached", "billing_free_preview", "billing_job_release",
           "billing_job_reserve", "register"]


def billing_job_reserve(*, company: Company, job: JobRef) -> None:
    """Reserve the credits a job will use; raise BillingLimitReached if the balance is short."""
    credits_reserve(company=company, job=job)


def billing_job_release(*, company: Company, job: JobRef, consumed: bool) -> None:
    """Settle a job's reservation: consumed when delivered, refunded when it was not."""
    credits_settle(company=company, job=job, consumed=consumed)


def billing_free_preview(*, company: Company) -> bool:
    """True when this company has no credits and may see its look once, watermarked."""
    return free_preview_available(company=company)


def register() -> None:
    limit_register(SEATS, seats_check)
