from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.tenancy import TallyModel, TenantModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # E-mail addresses are matched without regard to case.
        return self.get(email__iexact=username or "")

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=email.strip().lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Global, not tenant-owned: one person may belong to several companies."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


class Company(models.Model):
    """The tenant."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Lower-case domains, e.g. ["acme.com"]. Empty: any domain may be invited.
    allowed_domains = models.JSONField(default=list, blank=True)
    # Automatic invitation reminders after this many days; 0 turns them off.
    reminder_after_days = models.PositiveSmallIntegerField(default=3)
    # How many times an employee may ask for new candidates.
    redo_limit = models.PositiveSmallIntegerField(default=2)
    # Likeness threshold (a face-embedding distance; lower is stricter). Empty: the platform's
    # calibrated default (LIKENESS_THRESHOLD).
    likeness_threshold = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Closed by its owner: nobody signs in to it, and the privacy worker erases its people.
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    def domain_allowed(self, email: str) -> bool:
        if not self.allowed_domains:
            return True
        return email.rsplit("@", 1)[-1].lower() in self.allowed_domains


class Team(TenantModel):
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="team_name_unique_per_company")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Status(models.TextChoices):
        # In the order an employee moves through them.
        INVITED = "invited", "Invited"
        JOINED = "joined", "Joined"
        CONSENTED = "consented", "Consented"
        UPLOADED = "uploaded", "Uploaded"
        GENERATING = "generating", "Generating"
        REVIEW = "review", "Ready for review"
        APPROVED = "approved", "Approved"
        WITHDRAWN = "withdrawn", "Consent withdrawn"
        # Removed from the company while its leaver policy kept their approved headshot:
        # everything else about them is erased and they can no longer sign in to it.
        LEFT = "left", "Left the company"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    job_title = models.CharField(max_length=120, blank=True)
    invited_at = models.DateTimeField(default=timezone.now)
    joined_at = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept current by the database on every UPDATE (a trigger, migration 0006), so the API's
    # `updated_since` sees changes made by queryset.update() too.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The person's name (or e-mail) in lower case, for the alphabetical lists: kept in step
    # with the user by the database (triggers, migration 0008), so a list sorts and pages on
    # one index of this table instead of joining and sorting the whole company's users.
    # Never written by Python: whatever a save() sends, the trigger sets it again.
    sort_name = models.CharField(max_length=254, default="", editable=False)
    # How many of the person's selfies passed QA, kept by triggers on generation_selfie
    # (generation migration 0007): who is ready for a consistent batch is an index count.
    accepted_selfies = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="one_membership_per_company"),
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(role="owner"), name="one_owner_per_company"
            ),
        ]
        # One index per way the lists are filtered, each ending in the sort key and id, so
        # any page (first, last, or after a cursor) is a short range scan whatever the size.
        indexes = [
            models.Index(fields=["company", "sort_name", "id"], name="member_by_name"),
            models.Index(fields=["company", "status", "sort_name", "id"],
                         name="member_by_status_name"),
            models.Index(fields=["company", "team", "sort_name", "id"],
                         name="member_by_team_name"),
            models.Index(fields=["company", "updated_at", "id"], name="member_by_change"),
            # Who may join a team order (enough selfies, past the invitation) and what the
            # batches page reads of each (name to sort, user for the consent, team for the
            # look) from the index alone: SQLite reads no table row per person.
            models.Index(fields=["company", "status", "accepted_selfies", "sort_name", "user",
                                 "team", "id"], name="member_ready_scan"),
            # The company's admins (who is told a team is ready, a balance is low): a few
            # index entries, not a pass over every member of a large company.
            models.Index(fields=["company", "id"], name="member_admins",
                         condition=models.Q(role__in=["owner", "admin"])),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.company_id} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def has_joined(self) -> bool:
        return self.joined_at is not None


class MemberTally(TallyModel):
    """How many people of a company are in each team and status: the dashboard's counts and
    the teams' sizes, read in one short query whatever the size of the company.

    Written only by the database (statement triggers on teams_membership, migration 0008),
    so bulk inserts, queryset updates and cascading deletes are all counted.
    """

    tally_keys = ("team_key", "status")
    team_key = models.BigIntegerField()  # the team's id; 0 for people without a team
    status = models.CharField(max_length=12, choices=Membership.Status.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "team_key", "status"],
                                               name="one_tally_per_team_status")]


class Invitation(TenantModel):
    """A personal, single-use invitation for one e-mail address."""

    class Source(models.TextChoices):
        EMAIL = "email", "E-mail invite"
        LINK = "link", "Invite link"
        CSV = "csv", "CSV import"
        ADMIN = "admin", "Added by an admin"
        SCIM = "scim", "Provisioned by the company's directory"
        SSO = "sso", "Joined through the company's SSO"

    # Null once revoked: a revoked invitee who never joined leaves the member list,
    # while the invitation itself stays as a record.
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations"
    )
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.EMAIL)
    invite_link = models.ForeignKey(
        "InviteLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # None while the admin chose "send later".
    sent_at = models.DateTimeField(null=True, blank=True)
    reminder_count = models.PositiveSmallIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["company", "accepted_at", "revoked_at"]),
            # "N invitations saved but not sent": counts only those, usually none.
            models.Index(fields=["company"], name="invitation_unsent",
                         condition=models.Q(sent_at__isnull=True, accepted_at__isnull=True,
                                            revoked_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class InviteLink(TenantModel):
    """A shareable link anyone (optionally of one domain) can use to join."""

    label = models.CharField(max_length=120, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    # First characters of the token, so admins can tell links apart.
    token_prefix = models.CharField(max_length=8)
    allowed_domain = models.CharField(max_length=253, blank=True)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True) | models.Q(uses__lte=models.F("max_uses")),
                name="invite_link_uses_within_cap",
            )
        ]

    def __str__(self) -> str:
        return self.label or f"Link {self.token_prefix}…"


class LoginToken(models.Model):
    """A single-use e-mailed sign-in link. Belongs to a person, not a company."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sign-in link for {self.user_id}"
