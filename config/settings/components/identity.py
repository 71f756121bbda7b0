"""Identity: SSO, SCIM provisioning, two-factor, audit log (identity/)."""

from __future__ import annotations

from .django import DEBUG, INSTALLED_APPS, MIDDLEWARE, SITE_URL
from .environment import env

# --- Identity: SSO, SCIM provisioning, two-factor, audit log (identity/) ------------------
# Kept in one block: django-allauth provides the OpenID Connect and SAML providers and the
# MFA authenticators (TOTP, recovery codes, WebAuthn); django-scim2 the SCIM 2.0 protocol.
# allauth's own sign-up, password and e-mail pages are not mounted: people sign in as before
# (password for admins, e-mailed links for employees) or through their company's provider.
INSTALLED_APPS = [
    *INSTALLED_APPS,
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "identity",
]
MIDDLEWARE = list(MIDDLEWARE)  # a copy: django.py's list stays as it is
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
                  "allauth.account.middleware.AccountMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("axes.middleware.AxesMiddleware"),
                  "identity.middleware.IdentityMiddleware")
ACCOUNT_ADAPTER = "identity.sso.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_ADAPTER = "identity.sso.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
MFA_ADAPTER = "identity.twofactor.adapter.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Likeness")
# Plain http is accepted for WebAuthn only when developing locally.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=DEBUG)
# Outbound requests to identity providers (discovery, keys, tokens, SAML metadata) and to a
# domain's verification file; private and loopback addresses are refused unless allowed.
SSO_TIMEOUT_SECONDS = env.float("SSO_TIMEOUT_SECONDS", default=10.0)
SOCIALACCOUNT_REQUESTS_TIMEOUT = SSO_TIMEOUT_SECONDS
SSO_ALLOW_PRIVATE_URLS = env.bool("SSO_ALLOW_PRIVATE_URLS", default=False)
# Domain verification by DNS TXT record: resolvers to ask (empty: the system's).
DNS_TIMEOUT_SECONDS = env.float("DNS_TIMEOUT_SECONDS", default=5.0)
DNS_NAMESERVERS = env.list("DNS_NAMESERVERS", default=[])
# Where the proof file of a domain is fetched ({domain} is filled in).
DOMAIN_VERIFICATION_FILE_URL = env.str(
    "DOMAIN_VERIFICATION_FILE_URL",
    default="https://{domain}/.well-known/likeness-domain-verification.txt")
# Two-factor verification of an admin session lasts this long, then is asked again.
ADMIN_2FA_SESSION_HOURS = env.int("ADMIN_2FA_SESSION_HOURS", default=12)
SCIM_PAGE_SIZE_MAX = env.int("SCIM_PAGE_SIZE_MAX", default=200)
SCIM_SERVICE_PROVIDER = {
    "NETLOC": SITE_URL.split("://", 1)[-1],
    "SCHEME": SITE_URL.split("://", 1)[0],
    "DOCUMENTATION_URI": None,
    # Locations are built from SITE_URL when a response is made (NETLOC above is unused).
    "BASE_LOCATION_GETTER": "identity.scim.auth.base_location",
    "AUTHENTICATION_SCHEMES": [{
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "A provisioning token of one company, made on its SCIM page.",
        "primary": True,
    }],
    "USER_MODEL_GETTER": "identity.scim.adapters.user_model",
    "USER_ADAPTER": "identity.scim.adapters.ScimUserAdapter",
    "GROUP_MODEL": "identity.models.ScimGroup",
    "GROUP_ADAPTER": "identity.scim.adapters.ScimGroupAdapter",
    "USER_FILTER_PARSER": "identity.scim.filters.UserFilterQuery",
    "GROUP_FILTER_PARSER": "identity.scim.filters.GroupFilterQuery",
    "GET_EXTRA_MODEL_FILTER_KWARGS_GETTER": "identity.scim.auth.company_filter_kwargs_getter",
    "SERVICE_PROVIDER_CONFIG_MODEL": "identity.scim.views.ServiceProviderConfig",
    "AUTH_CHECK_MIDDLEWARE": "identity.scim.auth.PassThrough",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}
