"""Slack: a member's profile photo, through Slack's SCIM API (v1.1).

Config (``DirectoryConnection.config``): ``scim_token``, an OAuth token with the ``admin``
scope made by a Workspace (or, on Enterprise Grid, Org) Owner or Admin. SCIM needs the
Business+ or Enterprise Grid plan.

Why SCIM and not ``users.setPhoto``: that Web API method takes the image as a multipart
``image`` upload, but only ever sets the photo of the user the token belongs to, so it could
change nobody's photo but the admin's. SCIM lets an admin token update any member.

1. ``GET /scim/v1/Users?filter=email eq "<email>"`` for the member's id.
2. ``PATCH /scim/v1/Users/{id}`` with ``photos``. SCIM's photo value is a URL that Slack
   fetches (it takes no image bytes and no ``data:`` URI): we send a signed, expiring link
   to the square JPEG of the approved headshot (delivery/variants.py), so the site's address
   (SITE_URL) must be reachable from Slack.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests

from delivery.directory import base
from delivery.directory.base import DirectoryError, UserNotFound

LABEL = "Slack"
API = "Slack's SCIM API"
SCHEMA = "urn:scim:schemas:core:1.0"

TOKEN_HINT = ("Make a new SCIM token as a Slack Owner or Admin (an OAuth token with the admin "
              "scope); the account that made it must still be an Owner or Admin.")
PLAN_HINT = ("The token needs the admin scope, its maker must be an Owner or Admin, and SCIM "
             "needs the Business+ or Enterprise Grid plan.")


def _scim_base() -> str:
    return base.base_url("SLACK_SCIM_BASE", "https://api.slack.com")


def _error_detail(response: requests.Response) -> str:
    """Slack SCIM errors: ``{"Errors": {"description": ..., "code": ...}}``."""
    data = base.json_or_none(response)
    errors = data.get("Errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors:
        errors = errors[0]
    if isinstance(errors, dict):
        return str(errors.get("description") or "")
    return ""


class SlackConnector:
    provider = "slack"

    def __init__(self, *, scim_token: str) -> None:
        self._token = scim_token
        self._session = base.new_session()
        self._session.headers["Authorization"] = f"Bearer {scim_token}"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SlackConnector:
        return cls(**base.require(config, ("scim_token",), label=LABEL))

    def __repr__(self) -> str:  # never the token
        return "SlackConnector()"

    def _fail(self, response: requests.Response, *, action: str, email: str) -> DirectoryError:
        detail = _error_detail(response)
        return base.refusal(response, service=API, detail=detail, doing=action, messages={
            404: f"{LABEL} has no member with the e-mail {email}.",
            401: f"{API} did not accept the token while trying to {action} "
                 f"({detail or 'invalid_authentication'}). {TOKEN_HINT}",
            403: f"{API} refused to {action} ({detail or 'forbidden'}). {PLAN_HINT}"})

    def _find_user(self, email: str) -> str:
        # A SCIM filter string is a JSON string: quotes and backslashes escaped.
        scim_filter = f"email eq {json.dumps(email, ensure_ascii=False)}"
        url = f"{_scim_base()}/scim/v1/Users?filter={quote(scim_filter, safe='')}"
        response = base.send(self._session, "GET", url, service=API,
                             headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise self._fail(response, action="look up members", email=email)
        resources = base.json_body(response, service=API).get("Resources") or []
        if not isinstance(resources, list):
            raise DirectoryError(f"{API} answered the member search without a member list.",
                                 transient=False)
        users = [user for user in resources if isinstance(user, dict)
                 and isinstance(user.get("id"), str) and user["id"]
                 and user.get("active", True) is not False]  # deactivated members do not count
        if not users:
            raise UserNotFound(f"{LABEL} has no active member with the e-mail {email}.")
        if len(users) > 1:
            raise DirectoryError(f"{LABEL} has {len(users)} members with the e-mail {email}; "
                                 "not changing any of their photos.", transient=False)
        return users[0]["id"]

    def push_photo(self, *, email: str, jpeg: bytes, url: str = "") -> str:
        email = base.check_email(email, label=LABEL)
        base.jpeg_dimensions(jpeg)
        if not url.startswith(("https://", "http://")):
            raise DirectoryError(f"{LABEL} fetches photos from a link, and this headshot has "
                                 "none it could reach: check the site's address (SITE_URL).",
                                 transient=False)
        user_id = self._find_user(email)
        response = base.send(self._session, "PATCH",
                             f"{_scim_base()}/scim/v1/Users/{quote(user_id, safe='')}",
                             service=API, headers={"Accept": "application/json"},
                             json={"schemas": [SCHEMA],
                                   "photos": [{"value": url, "type": "photo", "primary": True}]})
        if response.status_code in (200, 204):
            return user_id
        raise self._fail(response, action="set the member's photo", email=email)

    def remove_photo(self, *, email: str, external_id: str) -> None:
        # Slack's SCIM API sets photos but has no way to clear one, and the Web API's
        # users.deletePhoto removes only the photo of the token's own user.
        raise DirectoryError(f"{LABEL} gives no way for an admin to remove a member's photo: "
                             "remove it in Slack (the member can, under Edit profile) or ask "
                             "the company's Slack admin to.", transient=False)
