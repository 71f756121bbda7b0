"""OpenID Connect as strict as the specification: allauth's provider and flow, with

- a nonce in every authorization request, checked against the id_token (pre_social_login);
- PKCE (S256) on every request (the app's settings);
- the id_token's signature always verified against the provider's JWKS, with asymmetric
  algorithms only (allauth skips the check for tokens fetched over TLS; we do not), and
  iss, aud, exp, iat, sub required;
- the discovery document's issuer equal to the configured one.

Views are allauth's OAuth2 login/callback views bound to this adapter, under allauth's URL
names, so allauth's provider code finds them.
"""

from __future__ import annotations

import json
import secrets

import requests
from allauth.account.internal.decorators import login_not_required
from allauth.core.internal.deferred import jwt
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest

from .views import provider_unreachable

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_SECONDS = 30  # clock skew between us and the provider


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class StrictOIDCAdapter(OpenIDConnectOAuth2Adapter):
    @property
    def openid_config(self) -> dict:
        config = super().openid_config
        provider = self.get_provider()
        configured = provider.app.settings.get("server_url", "")
        configured = configured.split("/.well-known/", 1)[0]
        if not _same_issuer(str(config.get("issuer", "")), configured):
            raise OAuth2Error("The provider's discovery document names another issuer.")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(config.get(key), str):
                raise OAuth2Error(f"The provider's discovery document has no {key}.")
        return config

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        if not kwargs["response"].get("id_token"):
            raise OAuth2Error("The provider returned no id_token.")
        return super().complete_login(request, app, token, **kwargs)

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        config = self.openid_config
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OAuth2Error("The id_token is not a JWT.") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise OAuth2Error(f"The id_token is signed with {alg!r}, which is not accepted.")
        with get_adapter().get_requests_session() as session:
            response = session.get(config["jwks_uri"])
            response.raise_for_status()
            keys = response.json().get("keys", [])
        candidates = [key for key in keys if isinstance(key, dict)
                      and (kid is None or key.get("kid") == kid)
                      and key.get("use", "sig") == "sig"]
        if not candidates:
            raise OAuth2Error("No key of the provider matches the id_token.")
        algorithm = jwt.algorithms.get_default_algorithms()[alg]
        last_error: Exception | None = None
        for jwk in candidates:
            try:
                key = algorithm.from_jwk(json.dumps(jwk))
                data = jwt.decode(
                    id_token, key=key, algorithms=[alg], audience=app.client_id,
                    issuer=config["issuer"], leeway=LEEWAY_SECONDS,
                    options={"require": ["iss", "aud", "exp", "iat", "sub"]},
                )
            except (jwt.PyJWTError, ValueError, TypeError) as exc:
                last_error = exc
                continue
            jwtkit.verify_jti(data)
            return data
        raise OAuth2Error(f"The id_token is not valid: {last_error}")


class StrictOIDCProvider(OpenIDConnectProvider):
    oauth2_adapter_class = StrictOIDCAdapter

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        nonce = secrets.token_urlsafe(24)
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        return super().redirect(request, process, next_url, data,
                                auth_params={**auth_params, "nonce": nonce}, nonce=nonce,
                                **kwargs)


def nonce_matches(state: dict, claims: dict) -> bool:
    expected, got = state.get("nonce"), claims.get("nonce")
    return (isinstance(expected, str) and isinstance(got, str)
            and secrets.compare_digest(expected, got))


def _run(view_class, request: HttpRequest, provider_id: str):
    try:
        return view_class.adapter_view(StrictOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404("No such sign-in.") from exc
    except (requests.RequestException, OAuth2Error, ValueError) as exc:
        # Discovery happens before allauth's own error handling starts.
        return provider_unreachable(request, None, exc)


@login_not_required
def login(request: HttpRequest, provider_id: str):
    return _run(OAuth2LoginView, request, provider_id)


@login_not_required
def callback(request: HttpRequest, provider_id: str):
    return _run(OAuth2CallbackView, request, provider_id)
