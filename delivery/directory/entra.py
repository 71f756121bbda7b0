"""Microsoft Entra ID (Azure AD): a user's profile photo, through Microsoft Graph.

Config (``DirectoryConnection.config``): ``tenant_id`` (the directory's GUID or a verified
domain such as contoso.onmicrosoft.com), ``client_id`` and ``client_secret`` of an app
registration with the Microsoft Graph *application* permissions User.Read.All (to find the
person) and ProfilePhoto.ReadWrite.All (or User.ReadWrite.All), with admin consent.

1. An app-only token (OAuth2 client credentials), cached until shortly before it expires.
2. The user, by mail or userPrincipalName.
3. ``PUT /users/{id}/photo/$value`` with the JPEG (Graph takes at most 4 MB).

Plain ``requests`` rather than MSAL: MSAL refuses authorities that are not https, so it
cannot talk to the loopback fake our tests use, and the token call is one form POST.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any
from urllib.parse import quote

import requests

from delivery.directory import base
from delivery.directory.base import DirectoryError, UserNotFound

LABEL = "Microsoft Entra ID"
GRAPH = "Microsoft Graph"
LOGIN = "Microsoft Entra sign-in"
SCOPE = "https://graph.microsoft.com/.default"
# "The size of the photo you can update to is limited to 4 MB" (Graph, Update profilePhoto).
MAX_PHOTO_BYTES = 4_000_000
# A cached token is used until this long before it expires (or half its life, if shorter).
TOKEN_MARGIN_SECONDS = 300.0

PERMISSION_HINT = ("Grant the app registration the Microsoft Graph application permissions "
                   "User.Read.All and ProfilePhoto.ReadWrite.All (or User.ReadWrite.All), "
                   "with admin consent.")
CREDENTIALS_HINT = ("Check tenant_id, client_id and client_secret (client secrets expire: "
                    "make a new one under the app registration's Certificates & secrets).")

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,253}")

_now = time.monotonic  # replaced in tests
_tokens_lock = threading.Lock()
_tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}  # key -> (token, use until)


def reset_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def _login_base() -> str:
    return base.base_url("ENTRA_LOGIN_BASE", "https://login.microsoftonline.com")


def _graph_base() -> str:
    return base.base_url("GRAPH_API_BASE", "https://graph.microsoft.com")


def _error_parts(response: requests.Response) -> tuple[str, str]:
    """(code, message) from Graph's ``{"error": {"code", "message"}}``, or from the token
    endpoint's ``{"error", "error_description"}`` (its first line: the rest is trace ids)."""
    data = base.json_or_none(response)
    if not isinstance(data, dict):
        return "", ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    description = str(data.get("error_description") or "").strip().splitlines()
    return str(error or ""), description[0] if description else ""


class EntraConnector:
    provider = "entra"

    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str) -> None:
        if not _TENANT.fullmatch(tenant_id):
            raise DirectoryError(f"{tenant_id!r} is not a Microsoft Entra tenant id or domain.",
                                 transient=False)
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._client_secret = client_secret
        self._session = base.new_session()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EntraConnector:
        values = base.require(config, ("tenant_id", "client_id", "client_secret"), label=LABEL)
        return cls(**values)

    def __repr__(self) -> str:  # never the secret
        return f"EntraConnector(tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"

    # --- token ---

    def _cache_key(self) -> tuple[str, str, str, str]:
        secret = hashlib.sha256(self._client_secret.encode()).hexdigest()
        return (_login_base(), self.tenant_id, self.client_id, secret)

    def _token(self, *, fresh: bool = False) -> str:
        key = self._cache_key()
        with _tokens_lock:
            cached = _tokens.get(key)
            if fresh and cached is not None:
                del _tokens[key]
            elif cached is not None and _now() < cached[1]:
                return cached[0]
        token, lifetime = self._request_token()
        margin = min(TOKEN_MARGIN_SECONDS, lifetime / 2)
        with _tokens_lock:
            _tokens[key] = (token, _now() + lifetime - margin)
        return token

    def _request_token(self) -> tuple[str, float]:
        url = f"{_login_base()}/{quote(self.tenant_id, safe='')}/oauth2/v2.0/token"
        response = base.send(self._session, "POST", url, service=LOGIN, data={
            "client_id": self.client_id, "client_secret": self._client_secret,
            "scope": SCOPE, "grant_type": "client_credentials",
        })
        if response.status_code != 200:
            code, message = _error_parts(response)
            detail = f"{code}: {message}" if code and message else code or message
            if base.is_transient_status(response.status_code):
                raise base.transient_error(response, service=LOGIN, detail=detail)
            raise DirectoryError(
                f"{LOGIN} refused the app's credentials ({response.status_code}"
                f"{', ' + detail if detail else ''}). {CREDENTIALS_HINT}",
                transient=False, status=response.status_code)
        data = base.json_body(response, service=LOGIN)
        token = data.get("access_token")
        try:
            lifetime = float(data.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        if not isinstance(token, str) or not token:
            raise DirectoryError(f"{LOGIN} answered without an access token.", transient=False)
        return token, max(0.0, lifetime)

    # --- Graph ---

    def _graph(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A Graph request with the app token; a 401 gets one retry with a fresh token
        (the cached one may have been revoked), then counts as bad credentials."""
        headers = kwargs.pop("headers", {})
        response = None
        for fresh in (False, True):
            token = self._token(fresh=fresh)
            response = base.send(self._session, method, url, service=GRAPH,
                                 headers={**headers, "Authorization": f"Bearer {token}"},
                                 **kwargs)
            if response.status_code != 401:
                break
        assert response is not None
        return response

    def _fail(self, response: requests.Response, *, action: str) -> DirectoryError:
        code, message = _error_parts(response)
        detail = f"{code}: {message}" if code and message else code or message
        return base.refusal(response, service=GRAPH, detail=detail, doing=action, messages={
            401: f"{GRAPH} did not accept the app's token while trying to {action} "
                 f"({detail or 'unauthorized'}). {CREDENTIALS_HINT}",
            403: f"{GRAPH} refused to {action}: the app lacks permission "
                 f"({detail or 'forbidden'}). {PERMISSION_HINT}"})

    def _find_user(self, email: str) -> str:
        literal = "'" + email.replace("'", "''") + "'"  # an OData string literal
        query = (f"$filter={quote(f'mail eq {literal} or userPrincipalName eq {literal}', safe='')}"
                 "&$select=id")
        response = self._graph("GET", f"{_graph_base()}/v1.0/users?{query}",
                               headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise self._fail(response, action="look up users")
        users = base.json_body(response, service=GRAPH).get("value")
        if not isinstance(users, list):
            raise DirectoryError(f"{GRAPH} answered the user search without a user list.",
                                 transient=False)
        ids = [user["id"] for user in users
               if isinstance(user, dict) and isinstance(user.get("id"), str) and user["id"]]
        if not ids:
            raise UserNotFound(f"{LABEL} has no user with the e-mail {email}.")
        if len(ids) > 1:
            # Never guess whose photo to change.
            raise DirectoryError(f"{LABEL} has {len(ids)} users whose mail or sign-in name is "
                                 f"{email}; not changing any of their photos.", transient=False)
        return ids[0]

    def push_photo(self, *, email: str, jpeg: bytes, url: str = "") -> str:
        email = base.check_email(email, label=LABEL)
        photo = base.fit_jpeg(jpeg, MAX_PHOTO_BYTES)
        user_id = self._find_user(email)
        response = self._graph("PUT", f"{_graph_base()}/v1.0/users/{quote(user_id, safe='')}"
                               "/photo/$value", data=photo,
                               headers={"Content-Type": "image/jpeg"})
        if response.status_code in (200, 201, 204):
            return user_id
        if response.status_code == 404:
            code, message = _error_parts(response)
            if code == "MailboxNotEnabledForRESTAPI":
                raise DirectoryError(f"{GRAPH} cannot set this user's photo: {message or code}.",
                                     transient=False, status=404)
            raise UserNotFound(f"The {LABEL} user {email} is gone ({code or 'not found'}).")
        raise self._fail(response, action="set the user's photo")

    def remove_photo(self, *, email: str, external_id: str) -> None:
        user_id = external_id or self._find_user(base.check_email(email, label=LABEL))
        response = self._graph("DELETE", f"{_graph_base()}/v1.0/users/{quote(user_id, safe='')}"
                               "/photo/$value")
        # 404: the user, or their photo, is gone already.
        if response.status_code not in (200, 204, 404):
            raise self._fail(response, action="remove the user's photo")
