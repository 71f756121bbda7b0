"""The credit ledger and Stripe purchases. Every write that moves credits lives here.

Exactly once, by construction: a purchase is keyed by its Checkout Session and each job has
at most one reservation, one consumption and one refund (unique constraints in the ledger),
and every balance check and write for a company runs under a lock on that company's row, so
two requests cannot both spend the last credit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse

from core.anchoring import GENESIS, anchor_advance, anchor_get
from core.emails import email_send
from core.errors import NotAllowed, ServiceError
from core.limits import LimitReached
from teams.models import Company, Membership, User
from teams.selectors import company_admins

from . import stripe_api
from .ledger import LEDGER_LOG, ledger_entry_hash
from .models import CheckoutSession, CreditEntry, LedgerHead, StripeCustomer

log = logging.getLogger(__name__)
Kind = CreditEntry.Kind


class BillingLimitReached(LimitReached):
    """The company's balance does not cover what was asked; the message says why (and any
    caller that shows ServiceErrors to people shows it)."""


class JobRef(Protocol):
    """What billing knows of a generation job: its id (the ledger's ``job_ref``) and whether
    it is the free, watermarked look preview. Billing never reads generation's tables."""

    pk: int
    watermarked: bool


@dataclass(frozen=True)
class Offer:
    key: str  # "pack-10" or "seats-N"
    credits: int
    amount_cents: int
    label: str


def billing_enabled() -> bool:
    return bool(settings.BILLING_ENABLED)


def credit_balance(*, company: Company) -> int:
    total = CreditEntry.objects.for_company(company).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def _lock(company: Company) -> None:
    """Serialise every credit movement of one company (PostgreSQL row lock)."""
    Company.objects.select_for_update().filter(pk=company.pk).first()


def _append(company: Company, **fields) -> CreditEntry:
    """The one way a ledger line is written: under the company's lock (so the ledger has one
    order), moving its signed head in the same transaction."""
    _lock(company)
    entry = CreditEntry.objects.create(company=company, **fields)
    head = anchor_get(LedgerHead, company.pk, lock=True)
    anchor_advance(LedgerHead, log_name=LEDGER_LOG, company_id=company.pk, head=head,
                   head_hash=ledger_entry_hash(head.head_hash if head else GENESIS, entry))
    return entry


def _entry(company: Company, **fields) -> CreditEntry | None:
    """Write one ledger line; None when that fact was already recorded (a duplicate)."""
    try:
        with transaction.atomic():
            return _append(company, **fields)
    except IntegrityError:
        return None


# --- Jobs --------------------------------------------------------------------------------


def job_cost(*, job: JobRef) -> int:
    return 0 if getattr(job, "watermarked", False) else int(settings.CREDITS_PER_JOB)


def free_preview_available(*, company: Company) -> bool:
    """A company that never bought credits may see its look once, watermarked (the ledger
    records the preview when it is made)."""
    if not billing_enabled() or credit_balance(company=company) >= settings.CREDITS_PER_JOB:
        return False
    return not CreditEntry.objects.for_company(company).filter(
        kind__in=[Kind.PURCHASE, Kind.FREE_PREVIEW]).exists()


def credits_reserve(*, company: Company, job: JobRef) -> None:
    """Hold the job's credits, or refuse it with a message the person can act on."""
    if not billing_enabled():
        return  # before the transaction: without billing, not even a savepoint
    _credits_reserve(company=company, job=job)


@transaction.atomic
def _credits_reserve(*, company: Company, job: JobRef) -> None:
    if getattr(job, "watermarked", False):
        # The free look preview costs nothing; the line says it was used.
        _entry(company, kind=Kind.FREE_PREVIEW, amount=0, job_ref=job.pk,
               reason=f"job {job.pk}, watermarked")
        return
    cost = job_cost(job=job)
    if cost == 0:
        return
    _lock(company)
    balance = credit_balance(company=company)
    if balance < cost:
        raise BillingLimitReached(
            "Your company has no headshot credits left, so no new photos can be made. "
            "An admin can buy more on the Billing page.")
    _entry(company, kind=Kind.RESERVATION, amount=-cost, job_ref=job.pk,
           reason=f"job {job.pk}")
    if balance - cost <= settings.LOW_BALANCE_CREDITS:
        _low_balance_notify(company, balance - cost)


# No savepoint inside a caller's transaction (two round trips per job): every caller lets
# a failure here end its own transaction, so a savepoint would have nothing to save.
@transaction.atomic(savepoint=False)
def credits_settle(*, company: Company, job: JobRef, consumed: bool) -> None:
    """Delivered: the reservation is consumed. Failed, cancelled or no likeness: refunded."""
    reservation = CreditEntry.objects.for_company(company).filter(
        kind=Kind.RESERVATION, job_ref=job.pk).first()
    if reservation is None:
        return
    _lock(company)
    if CreditEntry.objects.for_company(company).filter(
            job_ref=job.pk, kind__in=[Kind.CONSUMPTION, Kind.REFUND]).exists():
        return  # settled before: a redelivered task changes nothing
    if consumed:
        _entry(company, kind=Kind.CONSUMPTION, amount=0, job_ref=job.pk,
               reason=f"job {job.pk} delivered")
    else:
        _entry(company, kind=Kind.REFUND, amount=-reservation.amount, job_ref=job.pk,
               reason=f"job {job.pk} not delivered")


def seats_check(*, company: Company, additional: int) -> None:
    """Inviting more people than the credits cover is refused, with the numbers."""
    if not billing_enabled() or additional <= 0:
        return
    waiting = Membership.objects.for_company(company).filter(status__in=[
        Membership.Status.INVITED, Membership.Status.JOINED, Membership.Status.CONSENTED,
        Membership.Status.UPLOADED]).count()
    balance = credit_balance(company=company)
    needed = (waiting + additional) * settings.CREDITS_PER_JOB
    if needed > balance:
        raise BillingLimitReached(
            f"Inviting {additional} more {'person' if additional == 1 else 'people'} needs "
            f"{needed} credits in all ({waiting} people are already waiting for headshots); "
            f"your company has {balance}. An admin can buy more on the Billing page.")


def _low_balance_notify(company: Company, balance: int) -> None:
    for admin in company_admins(company=company):
        email_send(to=admin.user.email, template="low_balance",
                   context={"company": company, "balance": balance})


# --- Purchases ---------------------------------------------------------------------------


def offers() -> list[Offer]:
    packs = [Offer(key=f"pack-{credits}", credits=credits, amount_cents=cents,
                   label=f"{credits} headshot credits") for credits, cents in settings.CREDIT_PACKS]
    return packs


def offer_for(*, key: str, seats: int | None = None) -> Offer:
    if key == "seats":
        if not seats or not 1 <= seats <= 5000:
            raise ServiceError("Say how many people (1 to 5000).")
        return Offer(key=f"seats-{seats}", credits=seats,
                     amount_cents=seats * settings.CREDIT_SEAT_PRICE_CENTS,
                     label=f"{seats} headshot credits (per seat)")
    for offer in offers():
        if offer.key == key:
            return offer
    raise ServiceError("Choose a credit pack.")


def stripe_customer_for(*, company: Company, actor: Membership) -> str:
    existing = StripeCustomer.objects.for_company(company).first()
    if existing:
        return existing.customer_id
    customer_id = stripe_api.customer_create(company_id=company.pk, name=company.name,
                                             email=actor.user.email)
    try:
        with transaction.atomic():
            StripeCustomer.objects.create(company=company, customer_id=customer_id)
    except IntegrityError:
        pass  # a parallel request recorded it (the idempotency key gave it the same id)
    return StripeCustomer.objects.for_company(company).get().customer_id


def checkout_start(*, company: Company, actor: Membership, offer: Offer, request_key: str,
                   site_url: str) -> str:
    """Open a Stripe Checkout for ``offer``; returns the URL to send the admin to."""
    if not actor.is_admin:
        raise NotAllowed("Only admins buy credits.")
    if not billing_enabled():
        raise ServiceError("Payments are not set up on this installation.")
    customer_id = stripe_customer_for(company=company, actor=actor)
    billing_url = site_url + reverse("billing:billing", kwargs={"company_slug": company.slug})
    session = stripe_api.checkout_session_create(
        customer_id=customer_id, company_id=company.pk, credits=offer.credits,
        amount_cents=offer.amount_cents, label=offer.label,
        success_url=billing_url + "?checkout={CHECKOUT_SESSION_ID}",
        cancel_url=billing_url + "?checkout=cancelled", request_key=request_key)
    # The same request key gives the same session (Stripe's idempotency): record it once.
    CheckoutSession.objects.for_company(company).get_or_create(
        session_id=session.id, defaults={
            "company": company, "credits": offer.credits, "amount_cents": offer.amount_cents,
            "currency": settings.BILLING_CURRENCY, "created_by": actor.user})
    return session.url


@transaction.atomic
def checkout_sync(*, session_id: str, company: Company | None = None,
                  async_failed: bool = False) -> CreditEntry | None:
    """Bring one of our Checkout Sessions up to date from Stripe itself; credit it once.

    Used by the webhook and when the admin returns from Checkout, whichever is first. The
    session must be one we opened (and, from a page, one of this company's); its credits
    come from our record, never from the event.
    """
    query = CheckoutSession.objects.unscoped().select_for_update().filter(session_id=session_id)
    if company is not None:
        query = query.filter(company=company)
    record = query.first()
    if record is None:
        raise LookupError(f"no checkout session {session_id} of ours")
    truth = stripe_api.checkout_session_get(session_id)
    if truth.payment_status in ("paid", "no_payment_required"):
        entry = _entry(record.company, kind=Kind.PURCHASE, amount=record.credits,
                       stripe_ref=session_id, amount_cents=truth.amount_total or
                       record.amount_cents, currency=truth.currency or record.currency,
                       reason=f"Stripe Checkout {session_id}", actor=record.created_by)
        CheckoutSession.objects.for_company(record.company).filter(pk=record.pk).update(
            status=CheckoutSession.Status.PAID)
        return entry
    if truth.status == "expired":
        CheckoutSession.objects.for_company(record.company).filter(
            pk=record.pk, status=CheckoutSession.Status.OPEN).update(
            status=CheckoutSession.Status.EXPIRED)
    elif async_failed and truth.status == "complete":
        # A delayed payment (a bank debit) that failed: complete and unpaid for good, where
        # right after checkout.session.completed the same state still means "processing".
        CheckoutSession.objects.for_company(record.company).filter(
            pk=record.pk, status=CheckoutSession.Status.OPEN).update(
            status=CheckoutSession.Status.FAILED)
    return None


def portal_url(*, company: Company, actor: Membership, site_url: str) -> str:
    if not actor.is_admin:
        raise NotAllowed("Only admins manage billing.")
    customer_id = stripe_customer_for(company=company, actor=actor)
    return stripe_api.portal_session_create(
        customer_id=customer_id,
        return_url=site_url + reverse("billing:billing", kwargs={"company_slug": company.slug}),
        request_key=uuid.uuid4().hex)


@transaction.atomic
def credits_adjust(*, company: Company, amount: int, reason: str, actor: User | None) -> CreditEntry:
    """A manual correction by the platform's operator, always with a reason."""
    if not reason.strip():
        raise ServiceError("A manual adjustment needs a reason.")
    if amount == 0:
        raise ServiceError("An adjustment of 0 credits changes nothing.")
    return _append(company, kind=Kind.ADJUSTMENT, amount=amount, reason=reason.strip()[:500],
                   actor=actor)
