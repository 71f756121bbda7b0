from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity: SSO, SCIM provisioning, two-factor, audit log"
