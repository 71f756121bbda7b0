"""Where the rest of the platform asks billing for permission (see billing.services).

teams asks through core/limits.py ("may this company add a seat?"): ``register`` puts the
answer there in BillingConfig.ready(). generation, a layer above billing, calls the job
functions here around each job. With billing off (no Stripe key) every check passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.limits import SEATS, limit_register
from teams.models import Company

from .services import (
    BillingLimitReached,
    JobRef,
    billing_enabled,
    credit_balance,
    credits_reserve,
    credits_settle,
    free_preview_available,
    seats_check,
)

__all__ = ["BillingLimitReached", "CreditQuote", "billing_free_preview", "billing_job_release",
           "billing_job_reserve", "billing_quote", "register"]


@dataclass(frozen=True)
class CreditQuote:
    """What ``jobs`` jobs would cost, told before they start. ``balance`` is None when
    billing is off (no limit)."""

    jobs: int
    credits: int
    balance: int | None

    @property
    def enough(self) -> bool:
        return self.balance is None or self.balance >= self.credits



def billing_job_reserve(*, company: Company, job: JobRef) -> None:
    """Reserve the credits a job will use; raise BillingLimitReached if the balance is short."""
    credits_reserve(company=company, job=job)


def billing_job_release(*, company: Company, job: JobRef, consumed: bool) -> None:
    """Settle a job's reservation: consumed when delivered, refunded when it was not."""
    credits_settle(company=company, job=job, consumed=consumed)


def billing_free_preview(*, company: Company) -> bool:
    """True when this company has no credits and may see its look once, watermarked."""
    return free_preview_available(company=company)


def billing_quote(*, company: Company, jobs: int) -> CreditQuote:
    """The credits ``jobs`` new jobs take, and the balance they come from."""
    balance = credit_balance(company=company) if billing_enabled() else None
    return CreditQuote(jobs=jobs, credits=jobs * int(settings.CREDITS_PER_JOB), balance=balance)


def register() -> None:
    limit_register(SEATS, seats_check)
