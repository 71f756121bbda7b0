"""identity's pages (namespace "identity"): company admin pages under /c/<slug>/admin/, a
person's own security settings under /account/security/, and the SSO start pages."""

from django.urls import path

from .sso import views as sso_views
from .twofactor import views as twofactor
from .views import scim_admin, security_admin, sso_admin

app_name = "identity"

_admin = "c/<slug:company_slug>/admin"

urlpatterns = [
    path(f"{_admin}/sso/", sso_admin.sso_settings, name="sso_settings"),
    path(f"{_admin}/sso/domains/", sso_admin.domain_add, name="domain_add"),
    path(f"{_admin}/sso/domains/<int:pk>/verify/", sso_admin.domain_verify, name="domain_verify"),
    path(f"{_admin}/sso/domains/<int:pk>/remove/", sso_admin.domain_remove, name="domain_remove"),
    path(f"{_admin}/scim/", scim_admin.scim_settings, name="scim_settings"),
    path(f"{_admin}/scim/tokens/<int:pk>/revoke/", scim_admin.scim_token_revoke,
         name="scim_token_revoke"),
    path(f"{_admin}/security/", security_admin.security, name="security_admin"),
    path(f"{_admin}/audit/", security_admin.audit_log, name="audit_log"),
    path("sso/", sso_views.sso_start, name="sso_start"),
    path("sso/<slug:slug>/", sso_views.sso_company, name="sso_company"),
    path("account/security/", twofactor.security, name="security"),
    path("account/security/totp/", twofactor.totp_setup, name="totp_setup"),
    path("account/security/recovery-codes/", twofactor.recovery_codes_regenerate,
         name="recovery_codes"),
    path("account/security/keys/add/", twofactor.webauthn_add, name="webauthn_add"),
    path("account/security/<int:pk>/remove/", twofactor.authenticator_remove,
         name="authenticator_remove"),
    path("account/security/verify/", twofactor.verify, name="2fa_verify"),
    path("account/security/verify/key/", twofactor.verify_webauthn, name="2fa_verify_webauthn"),
]
