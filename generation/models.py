from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.tenancy import TenantModel
from teams.models import Membership, User


class Selfie(TenantModel):
    """One normalised selfie. Biometric data: private, and deleted under retention rules.

    Only the clean re-encoded copy is stored; the uploaded bytes are discarded.
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        # Handed to background intake (generation.intake.background): no file yet, and a
        # placeholder hash; it becomes accepted or rejected, or is deleted if refused.
        PENDING = "pending", "Being checked"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="selfies")
    image_key = models.CharField(max_length=255)
    thumb_key = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    source_format = models.CharField(max_length=10)
    # Of the normalised pixels: the same photo uploaded twice is recognised.
    content_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    qa_reasons = models.JSONField(default=list)
    qa_warnings = models.JSONField(default=list)
    qa_metrics = models.JSONField(default=dict)
    # 128-D face embedding (biometric: deleted with the selfie, never exported).
    face_embedding = models.JSONField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "membership", "content_sha256"], name="selfie_unique_per_person"
            )
        ]
        indexes = [
            # The colleague index's fingerprint and refresh (generation.colleagues): an
            # index-only scan of the company's embedded selfies, not the rows.
            models.Index(fields=["company", "membership", "id"], name="selfie_embedded_scan",
                         condition=models.Q(status="accepted", face_embedding__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"Selfie {self.pk} of membership {self.membership_id}"


class ColleagueIndex(TenantModel):
    """Kept for scoring (``generation.colleagues``): each person's selfie-embedding centroid,
    the whole company in one row. Reading every colleague's selfies for each job cost about
    a second at 5,000 people; this row is read in one go and brought up to date for the
    people whose selfies changed. Biometric data, derived from selfies: dropped whenever any
    of the company's selfies or their embeddings is deleted (``generation.deletion``)."""

    # What the selfies behind it were (count, highest and summed id, ``colleagues.fingerprint``).
    fingerprint = models.CharField(max_length=80)
    members = models.BinaryField()  # int64 membership ids, ascending
    selfies = models.BinaryField()  # int64 (membership id, selfie id) pairs, in that order
    centroids = models.BinaryField()  # float64, one embedding per member
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"],
                                               name="colleague_index_one_per_company")]

    def __str__(self) -> str:
        return f"Colleague index of company {self.company_id}"


class Look(TenantModel):
    """A company's look (team=None) or a team's own. Its content lives in versions."""

    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(team__isnull=True), name="one_company_look"
            ),
            models.UniqueConstraint(fields=["company", "team"], name="one_look_per_team"),
        ]

    def __str__(self) -> str:
        return self.name


class LookVersion(TenantModel):
    """One immutable version of a look. An edit makes a new version, which needs approval."""

    class Framing(models.TextChoices):
        HEAD_AND_SHOULDERS = "head_and_shoulders", "Head and shoulders"
        CHEST_UP = "chest_up", "Chest up"

    class Aspect(models.TextChoices):
        SQUARE = "1:1", "1:1 square"
        PORTRAIT_4_5 = "4:5", "4:5 portrait"
        PORTRAIT_3_4 = "3:4", "3:4 portrait"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        SUPERSEDED = "superseded", "Superseded"

    look = models.ForeignKey(Look, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    preset = models.CharField(max_length=20, blank=True)  # "" for a custom look
    backdrop_color = models.CharField(max_length=7)  # "#RRGGBB"
    backdrop_description = models.CharField(max_length=200, blank=True)
    wardrobe = models.CharField(max_length=200)
    lighting = models.CharField(max_length=200)
    framing = models.CharField(max_length=20, choices=Framing.choices)
    aspect_ratio = models.CharField(max_length=4, choices=Aspect.choices)
    output_size = models.PositiveIntegerField(default=1024)  # long side, pixels
    prompt = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Conformance tolerances that differ from the defaults (generation.conformance.Tolerances).
    tolerances = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["look", "version"], name="look_version_unique"),
            models.UniqueConstraint(
                fields=["look"], condition=models.Q(status="approved"),
                name="one_approved_version_per_look",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.look} v{self.version}"


class GenerationJob(TenantModel):
    class Kind(models.TextChoices):
        SINGLE_SELFIE = "single_selfie", "Single selfie"
        CONSISTENT_BATCH = "consistent_batch", "Consistent batch"
        PREVIEW = "preview", "Look preview"

    class Backend(models.TextChoices):
        REPLICATE = "replicate", "Replicate"
        GPU = "gpu", "In-house GPU (personal model)"
        OFFLINE = "offline", "Studio retouch, offline"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SCORING = "scoring", "Checking likeness"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # Kept killing its worker (out of memory, a crash): parked instead of looping.
        DEAD = "dead", "Stopped: kept crashing its worker"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    look_version = models.ForeignKey(LookVersion, on_delete=models.PROTECT, related_name="jobs")
    selfies = models.ManyToManyField(Selfie, through="JobSelfie", related_name="jobs")
    backend = models.CharField(max_length=10, choices=Backend.choices)
    # Why this backend: e.g. "Replicate is not configured".
    backend_reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    seeds = models.JSONField(default=list)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Backend ids keyed by seed, e.g. {"1234": "prediction-id"}.
    external_ids = models.JSONField(default=dict)
    cost_cents = models.PositiveIntegerField(default=0)
    # Times scoring found too few good likenesses and asked the backend for more.
    regenerations = models.PositiveSmallIntegerField(default=0)
    # A company's free look preview before it has bought credits: every image watermarked.
    watermarked = models.BooleanField(default=False)
    # Times a worker died holding this job (its lease ran out); too many and it is parked.
    kills = models.PositiveSmallIntegerField(default=0)
    # Stalled-job recovery (generation/services/recovery.py): how often the job's message
    # was sent again because no worker was seen on it, and when last. At most once per
    # lease (backing off), so a busy queue does not fill with copies; after
    # GENERATION_MAX_REQUEUES the job is given up, refunded.
    requeues = models.PositiveSmallIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)
    # Replicate creates begun but not yet recorded, by seed: {"<seed>": {"key", "at"}}.
    # Written before the create is sent, so a worker that dies after Replicate answered
    # leaves a trace: the retry looks the prediction up instead of paying for another.
    create_intents = models.JSONField(default=dict, blank=True)
    # What the worker is doing, for people watching: phase, step, total, loss, eta_seconds.
    progress = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    # A redo: the job it replaces, and what the person asked to change (carried to the
    # backend where it can use it: prompt, look adjustments).
    redo_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    instructions = models.CharField(max_length=500, blank=True)
    # A look preview made on the bundled public-domain sample portrait (no selfies; see
    # generation/sample_portrait.py): nobody's personal data.
    sample_portrait = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    queued_at = models.DateTimeField(default=timezone.now)
    # A worker holds the job until then; a job whose worker died is taken over after it.
    lease_until = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["company", "status"]),
                   models.Index(fields=["status", "updated_at"]),
                   # The API's job list pages on it (keyset on updated_at, id).
                   models.Index(fields=["company", "updated_at", "id"], name="job_by_change"),
                   # The batches page's progress: a company's newest jobs of one kind, read
                   # in order instead of scanning all its jobs.
                   models.Index(fields=["company", "kind", "queued_at"], name="job_by_kind")]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.kind}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.SCORING)


class JobSelfie(TenantModel):
    """Which selfies a job used (an explicit table, so it carries the company too)."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="+")
    selfie = models.ForeignKey(Selfie, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "selfie"], name="job_selfie_once")]

    def __str__(self) -> str:
        return f"Selfie {self.selfie_id} in job {self.job_id}"


class Candidate(TenantModel):
    """An image a job produced. Shown only once scoring lets it through."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="candidates")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    seed = models.BigIntegerField()
    # Index of the output within one backend result (a model may return several).
    output_index = models.PositiveSmallIntegerField(default=0)
    source_id = models.CharField(max_length=200)  # the backend's id for this output
    image_key = models.CharField(max_length=255)
    thumb_key = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Filled by scoring: likeness to the person's selfies, conformance to the look.
    likeness = models.FloatField(null=True, blank=True)  # 1 - distance; higher is more alike
    likeness_distance = models.FloatField(null=True, blank=True)
    conformance = models.JSONField(default=dict)
    # 128-D face embedding of the candidate (biometric: deleted with it, never exported).
    face_embedding = models.JSONField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    visible = models.BooleanField(default=False)
    hidden_reason = models.CharField(max_length=200, blank=True)
    # The gates (generation.gates): True only once scoring found no reason to hide it.
    # Every exit requires it (generation.selectors.candidates_that_may_leave), whatever
    # ``visible`` says.
    gates_passed = models.BooleanField(default=False)
    # Why it fails: [{"code": "second_person", "message": "Someone else appears ..."}].
    gate_reasons = models.JSONField(default=list, blank=True)
    is_favourite = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "seed", "output_index"]
        constraints = [
            # A redelivered task or a duplicated webhook can never add an image twice.
            models.UniqueConstraint(fields=["job", "seed", "output_index"],
                                    name="candidate_once_per_seed"),
        ]

    def __str__(self) -> str:
        return f"Candidate {self.pk} of job {self.job_id}"


class Headshot(TenantModel):
    """A person's current approved headshot."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="headshot")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The API's headshot list pages on it (keyset on approved_at, id).
        indexes = [models.Index(fields=["company", "approved_at", "id"],
                                name="headshot_by_approval")]

    def __str__(self) -> str:
        return f"Headshot of membership {self.membership_id}"


class ReviewDecision(TenantModel):
    """The audit trail of review: every pick, redo, approval and rejection, never edited."""

    class Action(models.TextChoices):
        FAVOURITE = "favourite", "Picked as favourite"
        UNFAVOURITE = "unfavourite", "Unpicked"
        REDO = "redo", "Asked for a redo"
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        Candidate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job = models.ForeignKey(
        GenerationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id}"


class ReplicateWebhook(models.Model):
    """Webhook deliveries seen, by Replicate's webhook-id: a replay is recognised and dropped.

    Not tenant-owned: it records a delivery, and the prediction it names leads to
    the job (and so the company) only after the signature is checked.
    """

    webhook_id = models.CharField(max_length=200, unique=True)
    prediction_id = models.CharField(max_length=200, db_index=True)
    status = models.CharField(max_length=20)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.webhook_id


class ReplicatePrediction(TenantModel):
    """One prediction created at Replicate for one seed of a job."""

    TERMINAL = ("succeeded", "failed", "canceled")

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="predictions")
    seed = models.BigIntegerField()
    prediction_id = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=20, default="starting")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When we last heard about it (webhook or poll); stale ones are polled.
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "synced_at"])]

    def __str__(self) -> str:
        return self.prediction_id

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
