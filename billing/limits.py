"""Where the rest of the platform asks billing for permission (see billing.services).

Callers call these at the right moments; with billing off (no Stripe key) every check passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ServiceError

if TYPE_CHECKING:
    from teams.models import Company


class BillingLimitReached(ServiceError):
    """The company's balance does not cover what was asked; the message says why (and any
    caller that shows ServiceErrors to people shows it)."""


def billing_seats_check(*, company: Company, additional: int) -> None:
    """Raise BillingLimitReached if ``additional`` more people cannot be invited."""
    from .services import seats_check

    seats_check(company=company, additional=additional)


def billing_job_reserve(*, company: Company, job: object) -> None:
    """Reserve the credits a job will use; raise BillingLimitReached if the balance is short."""
    from .services import credits_reserve

    credits_reserve(company=company, job=job)


def billing_job_release(*, company: Company, job: object, consumed: bool) -> None:
    """Settle a job's reservation: consumed when delivered, refunded when it was not."""
    from .services import credits_settle

    credits_settle(company=company, job=job, consumed=consumed)


def billing_free_preview(*, company: Company) -> bool:
    """True when this company has no credits and may see its look once, watermarked."""
    from .services import free_preview_available

    return free_preview_available(company=company)
