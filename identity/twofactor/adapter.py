"""allauth's MFA adapter with our encryption at rest (its default stores TOTP seeds in the
clear) and the relying party named by SITE_URL, not by whatever Host a request carried."""

from __future__ import annotations

from urllib.parse import urlsplit

from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings

from core.crypto import decrypt, encrypt


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt(encrypted_text)

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        return {"id": urlsplit(settings.SITE_URL).hostname or "localhost", "name": "Likeness"}

    def _get_site_name(self) -> str:
        return "Likeness"
