from __future__ import annotations

from django.db import models
from django.utils import timezone

from teams.models import User
from teams.tenancy import TenantModel


class ConsentNotice(TenantModel):
    """One version of a company's consent notice. Edits make new versions; none is changed."""

    version = models.PositiveIntegerField()
    # The part the company wrote.
    body = models.TextField()
    # Exactly what a person reads: the body plus the processors and retention sections.
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["company", "version"], name="notice_version_unique")
        ]

    def __str__(self) -> str:
        return f"Consent notice v{self.version}"


class ConsentRecord(TenantModel):
    """Append-only, hash-chained per company. Kept as legal proof after erasure.

    The subject is stored by value (id, e-mail, signed name), not as a foreign
    key, so erasing the person later never has to touch this row; on PostgreSQL a
    trigger refuses every UPDATE and DELETE.
    """

    class Event(models.TextChoices):
        GRANTED = "granted", "Granted"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Method(models.TextChoices):
        WEB_FORM = "web_form", "Signed online by the person"
        ADMIN_RECORDED = "admin_recorded", "Paper release recorded by an admin"

    subject_user_id = models.BigIntegerField(db_index=True)
    subject_email = models.EmailField()
    signed_name = models.CharField(max_length=200)
    event = models.CharField(max_length=10, choices=Event.choices)
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT, related_name="+")
    notice_version = models.PositiveIntegerField()
    notice_sha256 = models.CharField(max_length=64)
    method = models.CharField(max_length=20, choices=Method.choices)
    recorded_by_user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # Two records claiming the same predecessor would fork the chain.
            models.UniqueConstraint(fields=["company", "prev_hash"], name="consent_chain_no_fork")
        ]

    def __str__(self) -> str:
        return f"Consent {self.event} by {self.subject_email}"

