"""Slack's SCIM v1.1 user search and PATCH, strict about the photo."""


import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .base import FakeDirectory, FakeUser, RecordedRequest, _Handler, jpeg_size

SCIM_SCHEMA = "urn:scim:schemas:core:1.0"

_SCIM_FILTER = re.compile(r'email eq "((?:[^"\\]|\\.)*)"', re.IGNORECASE)


class FakeSlack(FakeDirectory):
    """A Business+ workspace's SCIM API, with one admin token."""

    name = "slack"
    server_version = "FakeSlack/1.0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = self.issue_token("xoxp")
        with self._lock:
            self._tokens[self.token] = float("inf")  # SCIM tokens do not expire
        self.hosted: dict[str, bytes] = {}  # links served by host()
        # How a photo link is fetched (url -> bytes or None); the fixture reads our own
        # site through Django's test client.
        self.fetch: Callable[[str], bytes | None] | None = None

    def _new_user_id(self) -> str:
        return "U" + secrets.token_hex(5).upper()

    def connection_config(self) -> dict[str, str]:
        return {"scim_token": self.token}

    def _error(self, handler: _Handler, request: RecordedRequest, status: int, message: str,
               code: str = "", headers: dict[str, str] | None = None) -> None:
        handler.reply(status, {"Errors": {"description": code or message, "code": status}},
                      headers=headers)

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        return {"schemas": [SCIM_SCHEMA], "id": user.id, "externalId": "",
                "userName": user.email.split("@")[0], "active": user.active,
                "emails": [{"value": user.email, "primary": True}],
                "photos": [{"value": f"{self.base_url}/avatars/{user.id}.jpg", "type": "photo"}],
                "meta": {"created": "2024-01-01T00:00:00-00:00",
                         "location": f"{self.base_url}/scim/v1/Users/{user.id}"}}

    def _route(self, handler: _Handler, request: RecordedRequest) -> None:
        if not self.bearer_ok(request.headers):
            self._error(handler, request, 401, "invalid_authentication")
            return
        path = unquote(request.path)
        if request.method == "GET" and path == "/scim/v1/Users":
            match = _SCIM_FILTER.fullmatch(request.query.get("filter", ""))
            if match is None:
                self._error(handler, request, 400, "invalid_filter")
                return
            email = json.loads(f'"{match[1]}"').casefold()
            with self._lock:
                found = [u for u in self._users.values() if u.email.casefold() == email]
            handler.reply(200, {"totalResults": len(found), "itemsPerPage": len(found),
                                "startIndex": 1, "schemas": [SCIM_SCHEMA],
                                "Resources": [self._user_json(u) for u in found]})
            return
        match = re.fullmatch(r"/scim/v1/Users/([^/]+)", path)
        if match is None or request.method != "PATCH":
            self._error(handler, request, 404, "not_found")
            return
        user = self.user_by_id(match[1])
        if user is None:
            self._error(handler, request, 404, "user_not_found")
            return
        try:
            body = request.json()
            schemas, photos = body["schemas"], body["photos"]
            value = str(photos[0]["value"])
        except (ValueError, KeyError, TypeError, IndexError):
            self._error(handler, request, 400, "invalid_photos")
            return
        if SCIM_SCHEMA not in schemas:
            self._error(handler, request, 400, "invalid_schemas")
            return
        # Slack's SCIM photo is a URL it fetches: no image bytes, no data: URI.
        if not re.fullmatch(r"https?://[^\s/]+/\S*", value):
            self._error(handler, request, 400, "invalid_photo_url")
            return
        with self._lock:
            user.photo, user.photo_url = None, value
            user.photo_uploads += 1
        handler.reply(200, self._user_json(user))

    def host(self, jpeg: bytes) -> str:
        """A link that serves ``jpeg`` to this fake (for tests without a site to serve it)."""
        url = f"https://headshots.example/h/{secrets.token_urlsafe(8)}/"
        with self._lock:
            self.hosted[url] = jpeg
        return url

    def photo_of(self, email: str) -> bytes | None:
        """The photo as Slack holds it: fetched from the link it was given, when first asked
        (Slack fetches it as it processes the change), and kept only if it is a JPEG."""
        user = self.user(email)
        if user is None:
            return None
        if user.photo is None and user.photo_url:
            data = self.hosted.get(user.photo_url)
            if data is None and self.fetch is not None:
                data = self.fetch(user.photo_url)
            if data is not None and jpeg_size(data) is not None:
                with self._lock:
                    user.photo = data
        return user.photo

