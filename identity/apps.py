from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity: SSO, SCIM provisioning, two-factor, audit log"

    def ready(self) -> None:
        from core.crypto import encrypted_column_register, encrypted_json_keys_register

        from . import personal_data

        # What identity stores about people, for erasure, the data-subject export and the
        # retention sweep (identity/personal_data.py).
        personal_data.register()

        # Encrypted by identity/sso/services.py before saving (a plain TextField): the key
        # rotation (manage.py rotate_field_keys) re-encrypts it with the others.
        encrypted_column_register("identity.SsoConnection", "oidc_client_secret")
        # allauth stores the TOTP seed and the recovery codes' seed encrypted through our MFA
        # adapter (identity/twofactor/adapter.py) inside its JSON column.
        encrypted_json_keys_register("mfa.Authenticator", "data", ("secret", "seed"))
