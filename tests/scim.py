"""A small SCIM client for the tests, and request bodies shaped as Entra ID and Okta send
them (from their published SCIM documentation and provisioning logs)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class ScimClient:
    def __init__(self, token: str, base: str = "/scim/v2") -> None:
        self.client = Client()
        self.token = token
        self.base = base

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        call = getattr(self.client, method.lower())
        if method in ("GET", "DELETE") and not data:
            return call(self.base + path, **self._headers())
        return call(self.base + path, data=data, content_type=SCIM, **self._headers())

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body: Any):
        return self.request("POST", path, body)

    def put(self, path: str, body: Any):
        return self.request("PUT", path, body)

    def patch(self, path: str, operations: list[dict]):
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations})

    def delete(self, path: str):
        return self.request("DELETE", path)


def okta_user(email: str, given: str = "Ada", family: str = "Lovelace", external_id: str = "",
              active: bool = True) -> dict:
    """Okta's POST /Users body."""
    body = {
        "schemas": [USER], "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given} {family}", "locale": "en-US", "groups": [],
        "password": "ignored-by-us", "active": active,
    }
    if external_id:
        body["externalId"] = external_id
    return body


def entra_user(upn: str, mail: str, external_id: str, given: str = "Grace",
               family: str = "Hopper") -> dict:
    """Entra ID's POST /Users body (default attribute mappings)."""
    return {
        "schemas": [USER, ENTERPRISE], "externalId": external_id, "userName": upn,
        "active": True, "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": mail}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [], "title": "Engineer",
        ENTERPRISE: {"department": "Research", "employeeNumber": "42"},
    }


def entra_deactivate() -> list[dict]:
    """Entra ID disables a user with a capitalised op and a string boolean."""
    return [{"op": "Replace", "path": "active", "value": "False"}]


def okta_deactivate() -> list[dict]:
    return [{"op": "replace", "value": {"active": False}}]
