"""Enterprise identity of a company: its SSO connection, verified e-mail domains, SCIM
provisioning (tokens, users, groups), security settings and the admin audit log."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.tenancy import CompanySettingsModel, TenantModel
from teams.models import Membership, Team, User


class SecuritySettings(CompanySettingsModel):
    """Per-company switches of this app. No row: the defaults."""

    # The owner may require every admin (and the owner) to use two-factor authentication.
    require_admin_2fa = models.BooleanField(default=False)
    # People provisioned by SCIM get the invitation e-mail (off: they join by SSO only).
    scim_send_invitations = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="one_security_settings")]


class EmailDomain(TenantModel):
    """A domain the company claims. Verified once its proof (a DNS TXT record or a file on
    the domain's web server) was seen; the proof is stored as it was found."""

    class Method(models.TextChoices):
        DNS = "dns", "DNS TXT record"
        FILE = "file", "File on the web server"

    domain = models.CharField(max_length=253)
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.DNS)
    token = models.CharField(max_length=64)
    verified_at = models.DateTimeField(null=True, blank=True)
    # What was checked and what was found, e.g. {"record": "...", "answers": [...]}.
    proof = models.JSONField(default=dict, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["company", "domain"], name="domain_once_per_company"),
            # A domain is verified by one company at most: its SSO speaks for that domain.
            models.UniqueConstraint(fields=["domain"], condition=models.Q(verified_at__isnull=False),
                                    name="domain_verified_once"),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class SsoConnection(CompanySettingsModel):
    """The company's identity provider (one per company), OpenID Connect or SAML 2.0."""

    class Protocol(models.TextChoices):
        OIDC = "oidc", "OpenID Connect"
        SAML = "saml", "SAML 2.0"

    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    enabled = models.BooleanField(default=False)
    # Refuse passwords and sign-in links for addresses at the verified domains (the owner
    # keeps their password as the way back in when the identity provider fails).
    enforced = models.BooleanField(default=False)
    # Anyone at a verified domain who signs in through the provider joins as a member.
    jit_join = models.BooleanField(default=False)
    # OpenID Connect
    oidc_issuer = models.URLField(max_length=500, blank=True)
    oidc_client_id = models.CharField(max_length=255, blank=True)
    oidc_client_secret = models.TextField(blank=True)  # encrypted (core/crypto.py)
    # SAML 2.0 (the IdP side, as typed in or read from its metadata)
    saml_metadata_url = models.URLField(max_length=500, blank=True)
    saml_idp_entity_id = models.CharField(max_length=500, blank=True)
    saml_idp_sso_url = models.URLField(max_length=500, blank=True)
    saml_idp_x509_cert = models.TextField(blank=True)
    # Our attribute -> the provider's claim or SAML attribute name(s).
    attribute_mapping = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="one_sso_per_company")]

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} for company {self.company_id}"


class ScimToken(TenantModel):
    """A bearer token for the company's provisioning client. Only its SHA-256 is stored
    (256 random bits: nothing to brute-force); it is good for /scim/v2/ and nothing else."""

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"SCIM token {self.prefix}… ({self.name})"


class ScimResource(TenantModel):
    """What every SCIM resource has: our id for it, the directory's own (externalId), and
    the times SCIM's ``meta`` reports."""

    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]


class ScimUser(ScimResource):
    """A person as the company's directory provisions them. Outlives the membership: a
    deactivated user stays readable (active=false) and can be reactivated."""

    user_name = models.CharField(max_length=255)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254)
    title = models.CharField(max_length=120, blank=True)
    active = models.BooleanField(default=True)
    membership = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta(ScimResource.Meta):
        constraints = [
            models.UniqueConstraint("company", Lower("user_name"), name="scim_user_name_unique"),
            models.UniqueConstraint(fields=["company", "external_id"],
                                    condition=~models.Q(external_id=""),
                                    name="scim_user_external_id_unique"),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(ScimResource):
    """A provisioned group; each maps to one of the company's teams."""

    display_name = models.CharField(max_length=255)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")

    class Meta(ScimResource.Meta):
        constraints = [
            models.UniqueConstraint("company", Lower("display_name"),
                                    name="scim_group_name_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(TenantModel):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="links")
    user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="group_links")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="scim_member_once")]


class AuditEvent(TenantModel):
    """One admin action, as it happened. Rows are only ever added."""

    action = models.CharField(max_length=60)
    # Who: a person, or a SCIM token for provisioning; by value, so it outlives them.
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_label = models.CharField(max_length=254)
    target = models.CharField(max_length=254, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"
