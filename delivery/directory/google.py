"""Google Workspace: a user's photo, through the Admin SDK Directory API.

Config (``DirectoryConnection.config``): ``service_account_info`` (the service account's
JSON key, as a dict) and ``admin_email``, a Workspace admin allowed to manage users, whom
the service account impersonates. The Workspace admin must grant the service account's
client ID domain-wide delegation for the scope below (Admin console > Security > API
controls > Domain-wide delegation).

The token comes from the real ``google-auth`` library: it signs a JWT grant (RS256) with
the key and trades it for an access token at the token endpoint. That endpoint is always
the GOOGLE_TOKEN_URI setting, never the key file's own ``token_uri``: a company's key must
not be able to send our workers (and its signed grant) elsewhere.

Then ``PUT .../users/{email}/photos/thumbnail`` with the JPEG, web-safe base64 encoded.
Google stores the photo downsized to 96x96.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any
from urllib.parse import quote

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import service_account

from core.retry import retry_after_seconds
from delivery.directory import base
from delivery.directory.base import DirectoryError

LABEL = "Google Workspace"
API = "The Google Admin SDK"
TOKEN = "Google's token endpoint"
SCOPE = "https://www.googleapis.com/auth/admin.directory.user"

DELEGATION_HINT = ("In the Google Admin console (Security > API controls > Domain-wide "
                   "delegation), authorise the service account's client ID{client_id} for "
                   f"{SCOPE}.")
ADMIN_HINT = ("admin_email must be an existing Workspace admin allowed to manage users, and the "
              "person must be in a domain of this Workspace account.")
KEY_HINT = "Check that the service account key is still active, or upload a new key."

_credentials_lock = threading.Lock()
# (key fingerprint, admin, token URI) -> credentials, which hold their token until it expires.
_credentials: dict[tuple[str, str, str], service_account.Credentials] = {}
_refresh_locks: dict[tuple[str, str, str], threading.Lock] = {}


def reset_token_cache() -> None:
    with _credentials_lock:
        _credentials.clear()
        _refresh_locks.clear()


def _token_uri() -> str:
    return base.base_url("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")


def _api_base() -> str:
    return base.base_url("GOOGLE_ADMIN_API_BASE", "https://admin.googleapis.com")


class _TokenEndpointBusy(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class _Request(google.auth.transport.requests.Request):
    """google-auth's requests transport, with our timeout and without its retries.

    google-auth calls the token endpoint with a 120 s default timeout and retries 429/5xx
    itself (three attempts, backing off); we want one attempt within our timeout, and the
    Retry-After header (which google-auth drops), and leave retrying to the caller.
    """

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        response = super().__call__(url, method=method, body=body, headers=headers,
                                    timeout=(self._timeout, self._timeout), **kwargs)
        if base.is_transient_status(response.status):
            raise _TokenEndpointBusy(response.status,
                                     retry_after_seconds(response.headers.get("Retry-After")))
        return response


def _error_parts(response: requests.Response) -> tuple[str, str]:
    """(reason, message) from ``{"error": {"code", "message", "errors": [{"reason"}]}}``."""
    data = base.json_or_none(response)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors")
    reason = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason") or "")
    return reason or str(error.get("status") or ""), str(error.get("message") or "")


class GoogleConnector:
    provider = "google"

    def __init__(self, *, service_account_info: dict[str, Any], admin_email: str) -> None:
        self.admin_email = admin_email
        info = dict(service_account_info)
        info["token_uri"] = _token_uri()
        self.client_email = str(info.get("client_email") or "")
        self.client_id = str(info.get("client_id") or "")  # public: shown in hints
        fingerprint = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()
        self._key = (fingerprint, admin_email, info["token_uri"])
        with _credentials_lock:
            credentials = _credentials.get(self._key)
        if credentials is None:
            try:
                credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=[SCOPE], subject=admin_email)
            except (ValueError, TypeError, KeyError) as error:
                # Missing fields or a key that does not parse; the message names no secret.
                raise DirectoryError(f"The {LABEL} service account key is not valid "
                                     f"({type(error).__name__}): upload the JSON key again.",
                                     transient=False) from error
            with _credentials_lock:
                credentials = _credentials.setdefault(self._key, credentials)
                _refresh_locks.setdefault(self._key, threading.Lock())
        self._credentials = credentials
        self._session = base.new_session()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GoogleConnector:
        info = config.get("service_account_info")
        if isinstance(info, str) and info.strip():
            try:
                info = json.loads(info)
            except ValueError:
                info = None
        if not isinstance(info, dict) or not info:
            raise DirectoryError(f"The {LABEL} connection is missing service_account_info (the "
                                 "service account's JSON key).", transient=False)
        admin = base.require(config, ("admin_email",), label=LABEL)["admin_email"]
        return cls(service_account_info=info, admin_email=admin)

    def __repr__(self) -> str:  # never the key
        return f"GoogleConnector(client_email={self.client_email!r}, admin={self.admin_email!r})"

    def _delegation_hint(self) -> str:
        return DELEGATION_HINT.format(client_id=f" ({self.client_id})" if self.client_id else "")

    # --- token ---

    def _token(self, *, fresh: bool = False) -> str:
        with _credentials_lock:
            lock = _refresh_locks.setdefault(self._key, threading.Lock())
        with lock:
            if fresh or not self._credentials.valid:
                self._refresh()
            return str(self._credentials.token)

    def _refresh(self) -> None:
        timeout = base.timeout_seconds()
        try:
            self._credentials.refresh(_Request(self._session, timeout))
        except _TokenEndpointBusy as busy:
            what = "is throttling requests" if busy.status == 429 else "had a server error"
            wait = "" if busy.retry_after is None else f"; retry after {busy.retry_after:g} seconds"
            raise DirectoryError(f"{TOKEN} {what} ({busy.status}){wait}.", transient=True,
                                 status=busy.status, retry_after=busy.retry_after) from busy
        except google.auth.exceptions.RefreshError as error:
            raise self._refresh_error(error) from error
        except google.auth.exceptions.TransportError as error:
            if isinstance(error.__cause__, requests.Timeout):
                raise DirectoryError(f"{TOKEN} did not answer within {timeout:g} seconds.",
                                     transient=True) from error
            raise DirectoryError(f"Could not reach {TOKEN}: "
                                 f"{type(error.__cause__ or error).__name__}.",
                                 transient=True) from error
        except google.auth.exceptions.GoogleAuthError as error:
            raise DirectoryError(f"Could not get a {LABEL} token: {error}", transient=False
                                 ) from error

    def _refresh_error(self, error: google.auth.exceptions.RefreshError) -> DirectoryError:
        data = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
        code = str(data.get("error") or "")
        description = str(data.get("error_description") or "")
        detail = f"{code}: {description}" if code and description else code or str(error.args[0])
        if getattr(error, "retryable", False):
            return DirectoryError(f"{TOKEN} failed ({detail}).", transient=True)
        if code == "unauthorized_client":
            hint = self._delegation_hint()
        elif code == "invalid_grant" and "signature" in description.lower():
            hint = KEY_HINT
        elif code == "invalid_grant":
            hint = f"{ADMIN_HINT} {KEY_HINT}"
        else:
            hint = KEY_HINT
        return DirectoryError(f"Google refused the service account's token request ({detail}). "
                              f"{hint}", transient=False)

    # --- API ---

    def _api(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A Directory API request; a 401 gets one retry with a new token."""
        response = None
        for fresh in (False, True):
            headers: dict[str, str] = {"Accept": "application/json"}
            self._token(fresh=fresh)
            self._credentials.apply(headers)
            response = base.send(self._session, method, url, service=API, headers=headers,
                                 **kwargs)
            if response.status_code != 401:
                break
        assert response is not None
        return response

    def _fail(self, response: requests.Response, *, email: str, doing: str) -> DirectoryError:
        reason, message = _error_parts(response)
        detail = f"{reason}: {message}" if reason and message else reason or message
        return base.refusal(response, service=API, detail=detail,
                            doing=f"{doing} of {email}", messages={
            404: f"{LABEL} has no user with the e-mail {email}.",
            401: f"{API} did not accept the service account's token "
                 f"({detail or 'unauthorized'}). {self._delegation_hint()}",
            403: f"{API} refused to {doing} of {email} ({detail or 'forbidden'}). "
                 f"{ADMIN_HINT}"})

    @staticmethod
    def _photo_url(email: str) -> str:
        return f"{_api_base()}/admin/directory/v1/users/{quote(email, safe='@')}/photos/thumbnail"

    def push_photo(self, *, email: str, jpeg: bytes, url: str = "") -> str:
        email = base.check_email(email, label=LABEL)
        width, height = base.jpeg_dimensions(jpeg)
        body = {
            # Web-safe base64 (RFC 4648 section 5), as the API's photoData asks.
            "photoData": base64.urlsafe_b64encode(jpeg).decode("ascii"),
            "mimeType": "JPEG", "width": width, "height": height,
        }
        response = self._api("PUT", self._photo_url(email), json=body)
        if response.status_code == 200:
            data = base.json_body(response, service=API)
            return str(data.get("id") or email)
        raise self._fail(response, email=email, doing="set the photo")

    def remove_photo(self, *, email: str, external_id: str) -> None:
        # users.photos.delete takes the e-mail or the id; the id survives an e-mail change.
        key = external_id or base.check_email(email, label=LABEL)
        response = self._api("DELETE", self._photo_url(key))
        if response.status_code not in (200, 204, 404):  # 404: user or photo gone already
            raise self._fail(response, email=email, doing="remove the photo")
