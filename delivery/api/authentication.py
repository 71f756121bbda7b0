"""The API's tenant is resolved here, from the key, and nowhere else."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core.rls import company_scope

from ..models import ApiKey
from .keys import api_key_for_secret

# last_used_at is written at most this often per key: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyPrincipal:
    """request.user for API calls: the key acting for its company, never a person."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None

    def __str__(self) -> str:
        return f"API key {self.key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed(
                "Send the key as: Authorization: Bearer lk_…")
        key = api_key_for_secret(parts[1])
        now = timezone.now()
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if key.company.closed_at is not None:
            raise exceptions.AuthenticationFailed("This company is closed.")
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
            with company_scope(key.company_id):
                ApiKey.objects.for_company(key.company_id).filter(pk=key.pk).update(
                    last_used_at=now)
        request.company = key.company
        return KeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "delivery.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "lk_<prefix>_<secret>",
                "description": "A company API key, created by an admin under Settings → API."}
