from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.anchoring import AnchorCheckpoint, AnchorHead
from core.tenancy import CompanySettingsModel, TallyModel, TenantModel
from teams.models import User


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
        # A person's latest record (who may be in a team order, per person on the batches
        # page) is the first entry read backwards, and its event is in the entry: the record
        # itself is not read (an index-only scan on PostgreSQL: the ledger is append-only).
        indexes = [models.Index(fields=["company", "subject_user_id", "id", "event"],
                                name="consent_latest_event")]

    def __str__(self) -> str:
        return f"Consent {self.event} by {self.subject_email}"


class ConsentHead(AnchorHead):
    """The company's consent chain head (record count, newest hash), signed, moved with every
    record: deleting the newest records or truncating the log shows (core/anchoring.py)."""


class ConsentCheckpoint(AnchorCheckpoint):
    """Periodic signed copies of the consent chain head; append-only."""


class RetentionPolicy(CompanySettingsModel):
    """A company's retention schedule, per data type, in hours. No row: the defaults.

    Every value is checked against the hard ceiling (privacy/retention.py) when it is
    saved through the service, and the sweeper clamps again when it reads one.
    """

    selfies_after_last_job_hours = models.PositiveIntegerField()
    selfies_max_hours = models.PositiveIntegerField()
    embeddings_after_last_job_hours = models.PositiveIntegerField()
    lora_after_delivery_hours = models.PositiveIntegerField()
    rejected_candidates_hours = models.PositiveIntegerField()
    unchosen_candidates_hours = models.PositiveIntegerField()
    # None: kept while the person is a member (the ceiling still applies).
    headshots_hours = models.PositiveIntegerField(null=True, blank=True)
    job_records_hours = models.PositiveIntegerField()
    exports_hours = models.PositiveIntegerField()
    audit_log_hours = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="one_retention_policy")]


class DeletionReceipt(TenantModel):
    """Proof that one object was deleted: what, whose, when, under which rule.

    Never the content, and never the storage key itself: only its SHA-256, which
    lets an auditor match a receipt to a key they already know. The subject is
    stored by value, so receipts outlive the person's rows.
    """

    kind = models.CharField(max_length=30)
    object_ref = models.CharField(max_length=120)  # e.g. "selfie:42"
    subject_user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    rule = models.CharField(max_length=60)
    key_sha256 = models.JSONField(default=list)  # one hash per storage key removed
    deleted_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-deleted_at", "-pk"]
        constraints = [
            # A sweep that runs twice (a redelivered task) cannot receipt an object twice.
            models.UniqueConstraint(fields=["company", "kind", "object_ref"],
                                    name="one_receipt_per_object")
        ]

    def __str__(self) -> str:
        return f"Deleted {self.object_ref} ({self.rule})"


class DeletionTally(TallyModel):
    """Deletion receipts per company, day (UTC) and kind, for the privacy page's "deletions in
    the last 30 days": a read of at most 30 days × kinds rows however many receipts there are.

    Written only by the database (a trigger on each insert of receipts, migration 0004).
    """

    tally_keys = ("day", "kind")
    day = models.DateField()
    kind = models.CharField(max_length=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "day", "kind"],
                                               name="one_deletion_tally_per_day_kind")]


class DataSubjectRequest(TenantModel):
    """An access (export) or erasure request, logged with its legal due date."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Copy of my data"
        ERASURE = "erasure", "Erase my data"

    class Status(models.TextChoices):
        PENDING = "pending", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # By value: an erasure removes the membership, the log of the request stays.
    subject_user_id = models.BigIntegerField(db_index=True)
    subject_email = models.EmailField()
    membership_ref = models.BigIntegerField()
    requested_by_user_id = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    export_key = models.CharField(max_length=255, blank=True)
    export_expires_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    # What an erasure could not do, for the person: the directories that kept their photo.
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["company", "status"]),
                   # The privacy page's log, newest first (keyset on requested_at, id).
                   models.Index(fields=["company", "requested_at", "id"], name="dsr_by_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.subject_email}"


class LeaverPolicy(CompanySettingsModel):
    """What happens to a leaver's approved headshot (everything else about them is always
    erased: selfies, face data, trained models, other photos). No row: deleted."""

    class Headshots(models.TextChoices):
        DELETE = "delete", "Delete it with everything else"
        KEEP = "keep", "Keep it (until the headshot retention period ends)"

    headshots = models.CharField(max_length=6, choices=Headshots.choices,
                                 default=Headshots.DELETE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="one_leaver_policy")]
