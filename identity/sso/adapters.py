"""django-allauth adapters: allauth does the protocol work (OIDC code flow with state and
PKCE, SAML with python3-saml: signatures, InResponseTo, audience, validity), and hands us the
verified identity in ``pre_social_login``, where our rules decide and we sign the person in.
allauth's own sign-up, account linking and SocialAccount rows are never used."""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.contrib.auth import login
from django.http import HttpRequest
from django.shortcuts import redirect, render

from core.errors import ServiceError
from core.inputs import safe_next
from core.rls import company_scope
from teams.models import Company

from ..audit import audit_record
from ..http import GuardedSession
from ..models import SsoConnection
from . import config
from .oidc import StrictOIDCProvider, nonce_matches
from .services import sso_sign_in

log = logging.getLogger(__name__)
SESSION_AUTH_KEY = "identity_auth"
BACKEND = "django.contrib.auth.backends.ModelBackend"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


def _first(values: dict, names: list[str]) -> str:
    for name in names:
        value = values.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _claims(sociallogin: SocialLogin, connection: SsoConnection) -> tuple[str, str]:
    """(e-mail, full name) from the verified identity, by the company's attribute mapping."""
    extra = sociallogin.account.extra_data or {}
    if connection.protocol == SsoConnection.Protocol.OIDC:
        values = {**(extra.get("userinfo") or {}), **(extra.get("id_token") or {})}
    else:
        values = extra  # SAML attributes: name -> list of values
    mapping = config.mapping_for(connection)
    email = _first(values, mapping["email"])
    if not email and connection.protocol == SsoConnection.Protocol.SAML:
        email = sociallogin.user.email or ""  # NameID in e-mail format (allauth read it)
    name = _first(values, mapping["name"]) or " ".join(
        part for part in (_first(values, mapping["first_name"]),
                          _first(values, mapping["last_name"])) if part)
    return email, name


def _denied(request: HttpRequest, message: str, company: Company | None) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(render(request, "identity/sso_error.html",
                                        {"message": message, "sso_company": company}, status=403))


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def list_apps(self, request: HttpRequest, provider=None, client_id=None):
        return config.apps_for(provider=provider, client_id=client_id)

    def get_provider(self, request: HttpRequest, provider, client_id=None):
        app = self.get_app(request, provider=provider, client_id=client_id)
        if app.provider == "openid_connect":
            return StrictOIDCProvider(request, app=app)
        return super().get_provider(request, provider, client_id=client_id)

    def get_requests_session(self):
        return GuardedSession()

    def on_authentication_error(self, request: HttpRequest, provider, error=None,
                                exception=None, extra_context=None) -> None:
        reason = (extra_context or {}).get("saml_last_error_reason") or exception or error
        log.warning("SSO sign-in failed (%s): %s", getattr(provider, "sub_id", "?"), reason)
        company = None
        app = getattr(provider, "app", None)
        if app is not None:
            company = Company.objects.filter(pk=app.settings.get("company_id")).first()
        raise _denied(request, "The sign-in through your identity provider did not succeed. "
                               "Try again, or ask your admin to check the SSO settings.", company)

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        app = sociallogin.provider.app
        company = Company.objects.filter(pk=app.settings.get("company_id")).first()
        if company is None:
            raise _denied(request, "This sign-in is no longer set up.", None)
        with company_scope(company.pk):  # the provider's company, for the database's wall
            self._sign_in(request, sociallogin, company)

    def _sign_in(self, request: HttpRequest, sociallogin: SocialLogin, company: Company) -> None:
        connection = SsoConnection.objects.for_company(company).first()
        if connection is None:
            raise _denied(request, "This sign-in is no longer set up.", None)
        if connection.protocol == SsoConnection.Protocol.OIDC:
            claims = (sociallogin.account.extra_data or {}).get("id_token") or {}
            if not nonce_matches(sociallogin.state, claims):
                audit_record(company=company, action="sso.signin_denied",
                             actor_label="identity provider", details={"reason": "nonce"},
                             request=request)
                raise _denied(request, "The sign-in response did not match the request. "
                                       "Please start again.", company)
        email, name = _claims(sociallogin, connection)
        try:
            user, membership = sso_sign_in(company=company, connection=connection, email=email,
                                           full_name=name)
        except ServiceError as error:
            audit_record(company=company, action="sso.signin_denied",
                         actor_label=email or "unknown", target=email,
                         details={"reason": str(error)[:200]}, request=request)
            raise _denied(request, str(error), company) from error
        login(request, user, backend=BACKEND)
        request.session[SESSION_AUTH_KEY] = {"method": "sso", "company": company.pk}
        next_url = safe_next(request, sociallogin.state.get("next") or "")
        raise ImmediateHttpResponse(
            redirect(next_url or "teams:employee_home", company_slug=company.slug)
            if not next_url else redirect(next_url))
