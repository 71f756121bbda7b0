"""What delivery keeps: API keys, webhook endpoints and their delivery log, directory
connections and the state of each person's photo in each directory.

These models moved here from teams/ and generation/; their tables keep the names they had
(``Meta.db_table``), so no data moved (migrations: delivery 0001, teams 0008, generation 0007).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.crypto import EncryptedJSONField, EncryptedTextField
from core.tenancy import TenantModel
from teams.models import Membership, User


class ApiKey(TenantModel):
    """A company-scoped API key. The secret is shown once; only its SHA-256 is stored
    (keys are 256-bit random, so a fast hash is enough: there is nothing to brute-force)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)  # shown in lists and logs
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "teams_apikey"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"API key {self.prefix}… ({self.name})"


class WebhookEndpoint(TenantModel):
    """Where a company wants to hear about events; deliveries are signed with `secret`
    (encrypted at rest, shown to the admin once when the endpoint is made)."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # event types chosen by the admin
    secret = EncryptedTextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "teams_webhookendpoint"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantModel):
    """One event to one endpoint, retried with backoff for a day; the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "teams_webhookdelivery"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"]),
                   # An endpoint's delivery log, newest first (keyset on created_at, id).
                   models.Index(fields=["endpoint", "created_at", "id"],
                                name="delivery_by_endpoint_time")]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"


class DirectoryConnection(TenantModel):
    """A company's connection to a directory (Microsoft Entra, Google Workspace, Slack).

    `config` holds the provider's credentials (delivery/directory/<provider>.py says
    which), encrypted at rest (core/crypto.py); it is shown to no one after saving.
    """

    class Provider(models.TextChoices):
        ENTRA = "entra", "Microsoft Entra ID"
        GOOGLE = "google", "Google Workspace"
        SLACK = "slack", "Slack"

    provider = models.CharField(max_length=10, choices=Provider.choices)
    config = EncryptedJSONField(default=dict)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "generation_directoryconnection"
        constraints = [models.UniqueConstraint(fields=["company", "provider"],
                                               name="one_connection_per_provider")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} for company {self.company_id}"


class DirectorySync(TenantModel):
    """The state of one person's photo in one directory."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Sending"
        SYNCED = "synced", "Up to date"
        NOT_FOUND = "not_found", "No such user in the directory"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(DirectoryConnection, on_delete=models.CASCADE,
                                   related_name="syncs")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    headshot_candidate_id = models.BigIntegerField(null=True, blank=True)  # what was sent
    external_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "generation_directorysync"
        constraints = [models.UniqueConstraint(fields=["connection", "membership"],
                                               name="one_sync_per_person_and_directory")]
        # The directory page lists the latest changes first (keyset on updated_at, id).
        indexes = [models.Index(fields=["company", "updated_at", "id"], name="sync_by_change")]

    def __str__(self) -> str:
        return f"Sync of membership {self.membership_id} to {self.connection_id}"
