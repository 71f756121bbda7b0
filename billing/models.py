"""Credits and Stripe: an append-only ledger per company, and what Stripe told us."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.anchoring import AnchorCheckpoint, AnchorHead
from core.tenancy import TenantModel


class CreditEntry(TenantModel):
    """One line of a company's credit ledger; the balance is the sum of ``amount``.

    Append-only (PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE) and anchored: every
    entry moves the company's signed LedgerHead (``manage.py ledger_verify``). Unique constraints make
    every money-moving fact happen once: one purchase per Checkout Session, and one
    reservation, one consumption and one refund per job, however often they are attempted.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        RESERVATION = "reservation", "Reserved for a job"
        CONSUMPTION = "consumption", "Used by a delivered job"
        REFUND = "refund", "Returned from a job"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        # A purchase's credits taken back (refund, dispute) or given back (a dispute won).
        REVERSAL = "reversal", "Payment refunded or disputed"
        FREE_PREVIEW = "free_preview", "Free look preview (watermarked)"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.IntegerField()  # credits; negative takes from the balance
    # A plain id, not a foreign key: the ledger outlives jobs the retention rules delete.
    job_ref = models.PositiveBigIntegerField(null=True, blank=True)
    stripe_ref = models.CharField(max_length=255, blank=True)  # Checkout Session id
    amount_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The billing page's ledger, newest first (keyset on created_at, id).
        indexes = [models.Index(fields=["company", "created_at", "id"], name="credit_by_time"),
                   # The balance (a SUM of amount over the company's ledger) read from the
                   # index alone, never the table's rows: on SQLite the SUM over 4,000 entries
                   # through credit_by_time fetched each row and made the billing page 1.3-1.5x
                   # slower at 10,000 people than at 10.
                   models.Index(fields=["company", "amount"], name="credit_balance")]
        constraints = [
            models.UniqueConstraint(fields=["stripe_ref"], condition=models.Q(kind="purchase"),
                                    name="credit_purchase_once_per_session"),
            models.UniqueConstraint(
                fields=["job_ref", "kind"],
                condition=models.Q(kind__in=["reservation", "consumption", "refund"]),
                name="credit_job_entry_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class LedgerHead(AnchorHead):
    """The company's ledger head (entry count, running hash), signed, moved with every entry:
    a deleted, truncated or rewritten entry shows (core/anchoring.py)."""


class LedgerCheckpoint(AnchorCheckpoint):
    """Periodic signed copies of the ledger head; append-only."""


class StripeCustomer(TenantModel):
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="one_stripe_customer")]

    def __str__(self) -> str:
        return self.customer_id


class CheckoutSession(TenantModel):
    """A purchase we started. The webhook trusts this row, not the event's metadata."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Payment failed"

    session_id = models.CharField(max_length=255, unique=True)
    credits = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.session_id


class StripeEvent(models.Model):
    """Every webhook event, once (not tenant-owned: an event names its company only after
    it is checked against our own records)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed (will be retried)"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
