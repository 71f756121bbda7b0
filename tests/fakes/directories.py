"""Local fakes of the directories headshots are written back to, on 127.0.0.1.

- ``FakeEntra``: Microsoft Entra ID's token endpoint (client credentials) and the slice of
  Microsoft Graph we use (user search by mail/UPN, ``PUT`` and ``DELETE
  /users/{id}/photo/$value``).
- ``FakeGoogle``: Google's OAuth token endpoint for service accounts (it verifies the JWT
  grant's RS256 signature with the service account's public key, and its claims) and the
  Admin SDK Directory API's ``PUT`` and ``DELETE /users/{userKey}/photos/thumbnail``.
- ``FakeSlack``: Slack's SCIM v1.1 user search and ``PATCH /Users/{id}``, strict about the
  photo: a URL that Slack fetches (``photo_of`` fetches it), never a ``data:`` URI.

Each serves its own port, records every request, keeps per-user photos (``photo_of``),
accepts only the tokens it issued (``revoke_tokens`` makes them all stale), answers 404 for
unknown users, and can fail or stall the next requests (``fail_next``, ``stall_next``).
Error bodies follow each service's own shape.

In a test::

    from tests.fakes import directories

    fake_directories = directories.fake_directories  # the fixture

    def test_something(fake_directories):  # settings already point at the three fakes
        fake_directories.entra.add_user("ann@alpha.example")
        config = fake_directories.entra.connection_config()

In a script::

    python -m tests.fakes.directories   # prints the URLs and configs as JSON, serves until ^C
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

from .loopback import LoopbackFake, LoopbackHandler, serve_until_interrupted

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
# The audience google-auth puts in every service-account grant (and Google expects).
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCIM_SCHEMA = "urn:scim:schemas:core:1.0"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent (percent-encoded), without the query string
    raw_query: str
    query: dict[str, str]  # decoded; the last value of a repeated name
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeUser:
    id: str
    email: str
    upn: str  # Entra's userPrincipalName (the e-mail unless given)
    active: bool = True
    photo: bytes | None = None  # the JPEG bytes the directory holds
    photo_url: str = ""  # Slack: the link its photo is fetched from
    photo_uploads: int = 0


@dataclass
class _Injected:
    on: str  # "api" | "token" | "any"
    status: int | None  # None: only stall
    retry_after: float | None = None
    stall: float = 0.0


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) when ``data`` is a decodable JPEG, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                return None
            image.load()
            return image.size
    except Exception:  # noqa: BLE001  (anything undecodable is simply not a JPEG)
        return None


class _Handler(LoopbackHandler):
    def _any(self) -> None:
        self.fake._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class FakeDirectory(LoopbackFake):
    """What the three fakes share: users, tokens, recorded requests, failure knobs."""

    name = "directory"
    server_version = "FakeDirectory/1.0"
    handler = _Handler

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.requests: list[RecordedRequest] = []
        self.token_lifetime = 3599  # seconds, for tokens issued from now on
        self._lock = threading.RLock()
        self._users: dict[str, FakeUser] = {}  # by id
        self._tokens: dict[str, float] = {}  # token -> expires at (time.time())
        self._injected: list[_Injected] = []
        self._stop_stalling = threading.Event()

    def _stopping(self) -> None:
        self._stop_stalling.set()  # releases stalled requests

    # --- users ---

    def _new_user_id(self) -> str:
        return str(uuid.uuid4())

    def add_user(self, email: str, *, upn: str | None = None, active: bool = True,
                 user_id: str | None = None) -> FakeUser:
        user = FakeUser(id=user_id or self._new_user_id(), email=email, upn=upn or email,
                        active=active)
        with self._lock:
            self._users[user.id] = user
        return user

    def user(self, email: str) -> FakeUser | None:
        """The user with this e-mail (or Entra UPN), compared case-insensitively."""
        wanted = email.casefold()
        with self._lock:
            return next((u for u in self._users.values()
                         if wanted in (u.email.casefold(), u.upn.casefold())), None)

    def user_by_id(self, user_id: str) -> FakeUser | None:
        with self._lock:
            return self._users.get(user_id)

    def photo_of(self, email: str) -> bytes | None:
        user = self.user(email)
        return None if user is None else user.photo

    # --- tokens ---

    def issue_token(self, prefix: str = "tok") -> str:
        token = f"{prefix}-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
        return token

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (as after a secret rotation)."""
        with self._lock:
            self._tokens.clear()

    def bearer_ok(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer "):
            return False
        with self._lock:
            expires = self._tokens.get(value[len("Bearer "):])
        return expires is not None and expires > time.time()

    # --- failure knobs ---

    def fail_next(self, n: int, status: int, *, retry_after: float | None = None,
                  on: str = "api") -> None:
        """The next ``n`` requests of a kind ("api", "token" or "any") answer ``status``."""
        with self._lock:
            self._injected.extend(_Injected(on, status, retry_after) for _ in range(n))

    def stall_next(self, n: int, seconds: float, *, on: str = "api") -> None:
        """The next ``n`` requests of a kind wait ``seconds`` before being answered."""
        with self._lock:
            self._injected.extend(_Injected(on, None, stall=seconds) for _ in range(n))

    # --- inspection ---

    def requests_to(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == method and unquote(r.path).startswith(path_prefix)]

    @property
    def token_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if self._is_token_request(r)]

    # --- serving (subclasses route) ---

    def _is_token_request(self, request: RecordedRequest) -> bool:
        return False

    def _error(self, handler: _Handler, request: RecordedRequest, status: int, message: str,
               code: str = "", headers: dict[str, str] | None = None) -> None:
        handler.reply(status, {"error": {"code": code or str(status), "message": message}},
                      headers=headers)

    def _route(self, handler: _Handler, request: RecordedRequest) -> None:
        raise NotImplementedError

    def _take_injected(self, kind: str) -> _Injected | None:
        with self._lock:
            for index, injected in enumerate(self._injected):
                if injected.on in (kind, "any"):
                    return self._injected.pop(index)
        return None

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        body = handler.body()
        request = RecordedRequest(
            method=handler.command, path=parts.path, raw_query=parts.query,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in handler.headers.items()}, body=body)
        with self._lock:
            self.requests.append(request)
        kind = "token" if self._is_token_request(request) else "api"
        injected = self._take_injected(kind)
        if injected is not None:
            if injected.stall:
                self._stop_stalling.wait(injected.stall)
            if injected.status is not None:
                headers = ({"Retry-After": f"{injected.retry_after:g}"}
                           if injected.retry_after is not None else None)
                self._error(handler, request, injected.status,
                            f"Injected {injected.status} from the fake", headers=headers)
                return
        self._route(handler, request)


# --- Microsoft Entra ID + Graph ------------------------------------------------------------

_GRAPH_CODES = {400: "BadRequest", 401: "InvalidAuthenticationToken",
                403: "Authorization_RequestDenied", 404: "Request_ResourceNotFound",
                429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable",
                504: "GatewayTimeout"}
_ODATA_LITERAL = r"'((?:[^']|'')*)'"
_GRAPH_FILTER = re.compile(rf"mail eq {_ODATA_LITERAL} or userPrincipalName eq {_ODATA_LITERAL}")


class FakeEntra(FakeDirectory):
    """One tenant with one app registration; Graph photos kept per user."""

    name = "entra"
    server_version = "FakeEntra/1.0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tenant_id = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.client_secret = "fake~" + secrets.token_urlsafe(30)
        # Application permissions granted (with admin consent) to the app.
        self.permissions = {"User.Read.All", "ProfilePhoto.ReadWrite.All"}
        self.max_photo_bytes = 4_000_000

    def connection_config(self) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "client_id": self.client_id,
                "client_secret": self.client_secret}

    def _is_token_request(self, request: RecordedRequest) -> bool:
        return request.path.endswith("/oauth2/v2.0/token")

    def _error(self, handler: _Handler, request: RecordedRequest, status: int, message: str,
               code: str = "", headers: dict[str, str] | None = None) -> None:
        if self._is_token_request(request):  # the identity platform's OAuth error shape
            handler.reply(status, {
                "error": code or ("temporarily_unavailable" if status >= 429 else
                                  "invalid_request"),
                "error_description": f"{message}\r\nTrace ID: {uuid.uuid4()}\r\n"
                                     f"Correlation ID: {uuid.uuid4()}\r\nTimestamp: now",
                "error_codes": [0], "trace_id": str(uuid.uuid4())}, headers=headers)
            return
        handler.reply(status, {"error": {"code": code or _GRAPH_CODES.get(status, "Error"),
                                         "message": message,
                                         "innerError": {"request-id": str(uuid.uuid4())}}},
                      headers=headers)

    def _route(self, handler: _Handler, request: RecordedRequest) -> None:
        path = unquote(request.path)
        if request.method == "POST" and (match := re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token",
                                                                path)):
            self._token(handler, request, match[1])
            return
        if not path.startswith("/v1.0/"):
            self._error(handler, request, 404, "Unknown path.", "UnknownPath")
            return
        if not self.bearer_ok(request.headers):
            self._error(handler, request, 401, "Access token validation failure.")
            return
        if request.method == "GET" and path == "/v1.0/users":
            self._search(handler, request)
            return
        if request.method in ("PUT", "PATCH", "DELETE") and (
                match := re.fullmatch(r"/v1\.0/users/([^/]+)/photo/\$value", path)):
            if request.method == "DELETE":
                self._photo_delete(handler, request, match[1])
            else:
                self._photo(handler, request, match[1])
            return
        self._error(handler, request, 400, f"Unsupported request {request.method} {path}.")

    def _token(self, handler: _Handler, request: RecordedRequest, tenant: str) -> None:
        form = request.form
        if not request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            self._error(handler, request, 400, "AADSTS900144: The request body must contain "
                        "the following parameter: 'grant_type'.", "invalid_request")
        elif tenant != self.tenant_id:
            self._error(handler, request, 400, f"AADSTS90002: Tenant '{tenant}' not found.",
                        "invalid_request")
        elif form.get("grant_type") != "client_credentials":
            self._error(handler, request, 400, "AADSTS70003: The app requested an unsupported "
                        "grant type.", "unsupported_grant_type")
        elif form.get("client_id") != self.client_id:
            self._error(handler, request, 400, f"AADSTS700016: Application with identifier "
                        f"'{form.get('client_id')}' was not found in the directory.",
                        "unauthorized_client")
        elif form.get("client_secret") != self.client_secret:
            self._error(handler, request, 401, "AADSTS7000215: Invalid client secret provided. "
                        "Ensure the secret being sent in the request is the client secret "
                        "value, not the client secret ID.", "invalid_client")
        elif form.get("scope") != GRAPH_SCOPE:
            self._error(handler, request, 400, "AADSTS1002012: The provided value for scope "
                        f"{form.get('scope')} is not valid.", "invalid_scope")
        else:
            handler.reply(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                "ext_expires_in": self.token_lifetime,
                                "access_token": self.issue_token("eyJ0eXAi")})

    def _search(self, handler: _Handler, request: RecordedRequest) -> None:
        if "User.Read.All" not in self.permissions and "User.ReadWrite.All" not in \
                self.permissions:
            self._error(handler, request, 403, "Insufficient privileges to complete the "
                        "operation.", "Authorization_RequestDenied")
            return
        match = _GRAPH_FILTER.fullmatch(request.query.get("$filter", ""))
        if match is None:
            self._error(handler, request, 400, "Invalid filter clause", "BadRequest")
            return
        mail, upn = (value.replace("''", "'").casefold() for value in match.groups())
        with self._lock:
            found = [u for u in self._users.values()
                     if u.email.casefold() == mail or u.upn.casefold() == upn]
        select = [s for s in request.query.get("$select", "").split(",") if s]
        fields = {"id": "id", "mail": "email", "userPrincipalName": "upn"}
        rows = [{name: getattr(u, attr) for name, attr in fields.items()
                 if not select or name in select} for u in found]
        handler.reply(200, {"@odata.context": f"{self.base_url}/v1.0/$metadata#users(id)",
                            "value": rows})

    def _photo_delete(self, handler: _Handler, request: RecordedRequest, user_id: str) -> None:
        """Graph's DELETE /users/{id}/photo/$value: 204, or 404 when there is no photo."""
        if not self.permissions & {"ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"}:
            self._error(handler, request, 403, "Access is denied. Check credentials and try "
                        "again.", "ErrorAccessDenied")
            return
        user = self.user_by_id(user_id)
        if user is None or user.photo is None:
            self._error(handler, request, 404, "The photo wasn't found.", "ImageNotFound")
            return
        with self._lock:
            user.photo = None
        handler.reply(204)

    def _photo(self, handler: _Handler, request: RecordedRequest, user_id: str) -> None:
        if not self.permissions & {"ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"}:
            self._error(handler, request, 403, "Access is denied. Check credentials and try "
                        "again.", "ErrorAccessDenied")
            return
        user = self.user_by_id(user_id)
        if user is None:
            self._error(handler, request, 404, f"Resource '{user_id}' does not exist or one of "
                        "its queried reference-property objects are not present.")
            return
        if request.headers.get("content-type") != "image/jpeg":
            self._error(handler, request, 400, "Content-Type must be image/jpeg.",
                        "ErrorInvalidImage")
            return
        if len(request.body) > self.max_photo_bytes:
            self._error(handler, request, 413, "The photo is larger than the 4 MB limit.",
                        "RequestBodyTooLarge")
            return
        if jpeg_size(request.body) is None:
            self._error(handler, request, 400, "The photo is not a valid image.",
                        "ErrorInvalidImage")
            return
        with self._lock:
            user.photo = request.body
            user.photo_uploads += 1
        handler.reply(200)


# --- Google Workspace ---------------------------------------------------------------------


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def google_photo_decode(photo_data: str) -> bytes:
    """photoData in either web-safe base64 form the docs allow ('=' or '*'/'.' padding)."""
    return base64.urlsafe_b64decode(photo_data.replace("*", "=").replace(".", "="))


class FakeGoogle(FakeDirectory):
    """A Workspace account with one service account (its own RSA key) and domain-wide
    delegation for the Directory API user scope."""

    name = "google"
    server_version = "FakeGoogle/1.0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_id = secrets.token_hex(20)
        self.client_email = "likeness-sync@fake-project.iam.gserviceaccount.com"
        self.client_id = str(secrets.randbelow(10**21)).zfill(21)
        # Users the service account may impersonate (Workspace admins).
        self.admins: set[str] = set()
        # Scopes granted to client_id under domain-wide delegation.
        self.delegated_scopes = {GOOGLE_SCOPE}
        self.grants: list[dict[str, Any]] = []  # verified JWT claims of each token grant
        self._token_subjects: dict[str, str] = {}

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def _new_user_id(self) -> str:
        return str(secrets.randbelow(10**21)).zfill(21)

    def add_admin(self, email: str) -> FakeUser:
        self.admins.add(email.casefold())
        return self.user(email) or self.add_user(email)

    def service_account_info(self, private_key: rsa.RSAPrivateKey | None = None
                             ) -> dict[str, str]:
        """The JSON key, as Google's console downloads it (its token_uri is Google's own)."""
        pem = (private_key or self.private_key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode("ascii")
        return {
            "type": "service_account", "project_id": "fake-project",
            "private_key_id": self.private_key_id, "private_key": pem,
            "client_email": self.client_email, "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": GOOGLE_AUDIENCE,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def connection_config(self, admin_email: str) -> dict[str, Any]:
        return {"service_account_info": self.service_account_info(), "admin_email": admin_email}

    def _is_token_request(self, request: RecordedRequest) -> bool:
        return request.path == "/token"

    def _error(self, handler: _Handler, request: RecordedRequest, status: int, message: str,
               code: str = "", headers: dict[str, str] | None = None) -> None:
        if self._is_token_request(request):
            handler.reply(status, {"error": code or ("internal_failure" if status >= 500
                                                     else "invalid_request"),
                                   "error_description": message}, headers=headers)
            return
        reasons = {400: "invalid", 401: "authError", 403: "forbidden", 404: "notFound",
                   429: "rateLimitExceeded", 503: "backendError"}
        statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                    404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
        handler.reply(status, {"error": {
            "code": status, "message": message,
            "errors": [{"message": message, "domain": "global",
                        "reason": code or reasons.get(status, "backendError")}],
            "status": statuses.get(status, "UNKNOWN")}}, headers=headers)

    def _route(self, handler: _Handler, request: RecordedRequest) -> None:
        if request.method == "POST" and request.path == "/token":
            self._token(handler, request)
            return
        match = re.fullmatch(r"/admin/directory/v1/users/([^/]+)/photos/thumbnail",
                             request.path)
        if match is None or request.method not in ("PUT", "PATCH", "DELETE"):
            self._error(handler, request, 404, "Not Found")
            return
        if not self.bearer_ok(request.headers):
            self._error(handler, request, 401, "Request had invalid authentication "
                        "credentials. Expected OAuth 2 access token.")
            return
        if request.method == "DELETE":  # users.photos.delete: 204 with no body
            user = self.user(unquote(match[1])) or self.user_by_id(unquote(match[1]))
            if user is None:
                self._error(handler, request, 404, "Resource Not Found: userKey")
                return
            with self._lock:
                user.photo = None
            handler.reply(204)
            return
        self._photo(handler, request, unquote(match[1]))

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        """The claims of a JWT grant signed with the service account's key (ValueError)."""
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(signature_b64)
        except (ValueError, binascii.Error) as error:
            raise ValueError("Invalid JWT: malformed") from error
        if header.get("alg") != "RS256" or header.get("kid") != self.private_key_id:
            raise ValueError("Invalid JWT Signature.")
        try:
            self.private_key.public_key().verify(
                signature, f"{header_b64}.{payload_b64}".encode("ascii"),
                padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not (
                iat - 300 <= now <= exp and exp - iat <= 3600):
            raise ValueError("Invalid JWT: Token must be a short-lived token (60 minutes) and "
                             "in a reasonable timeframe.")
        if claims.get("iss") != self.client_email:
            raise ValueError("Invalid JWT: iss is not this service account.")
        if claims.get("aud") != GOOGLE_AUDIENCE:
            raise ValueError("Invalid JWT: audience.")
        return {"header": header, **claims}

    def _token(self, handler: _Handler, request: RecordedRequest) -> None:
        form = request.form
        if form.get("grant_type") != JWT_BEARER:
            self._error(handler, request, 400, "Invalid grant_type.", "unsupported_grant_type")
            return
        try:
            claims = self._verify_assertion(form.get("assertion", ""))
        except ValueError as error:
            self._error(handler, request, 400, str(error), "invalid_grant")
            return
        subject = str(claims.get("sub") or "")
        if subject.casefold() not in self.admins:
            self._error(handler, request, 400, "Invalid email or User ID", "invalid_grant")
            return
        scopes = set(str(claims.get("scope") or "").split())
        if not scopes or not scopes <= self.delegated_scopes:
            self._error(handler, request, 401, "Client is unauthorized to retrieve access "
                        "tokens using this method, or client not authorized for any of the "
                        "scopes requested.", "unauthorized_client")
            return
        with self._lock:
            self.grants.append(claims)
        token = self.issue_token("ya29.fake")
        with self._lock:
            self._token_subjects[token] = subject
        handler.reply(200, {"access_token": token, "expires_in": self.token_lifetime,
                            "token_type": "Bearer"})

    def _photo(self, handler: _Handler, request: RecordedRequest, user_key: str) -> None:
        user = self.user(user_key) or self.user_by_id(user_key)
        if user is None:
            self._error(handler, request, 404, "Resource Not Found: userKey")
            return
        try:
            body = request.json()
            data = google_photo_decode(str(body["photoData"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            self._error(handler, request, 400, "Invalid Input: photoData")
            return
        size = jpeg_size(data)
        if body.get("mimeType") != "JPEG" or size is None:
            self._error(handler, request, 400, "Invalid Input: mimeType")
            return
        if (body.get("width"), body.get("height")) not in ((None, None), size):
            self._error(handler, request, 400, "Invalid Input: width/height")
            return
        with self._lock:
            user.photo = data
            user.photo_uploads += 1
        handler.reply(200, {"kind": "admin#directory#user#photo", "id": user.id,
                            "etag": f'"{secrets.token_urlsafe(12)}"',
                            "primaryEmail": user.email, "mimeType": "JPEG",
                            "width": size[0], "height": size[1],
                            "photoData": body["photoData"]})


# --- Slack (SCIM) -------------------------------------------------------------------------

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


# --- Fixture and script -------------------------------------------------------------------


@dataclass
class FakeDirectories:
    entra: FakeEntra = field(default_factory=FakeEntra)
    google: FakeGoogle = field(default_factory=FakeGoogle)
    slack: FakeSlack = field(default_factory=FakeSlack)

    def start(self) -> FakeDirectories:
        for fake in (self.entra, self.google, self.slack):
            fake.start()
        return self

    def stop(self) -> None:
        for fake in (self.entra, self.google, self.slack):
            fake.stop()

    def settings(self) -> dict[str, str]:
        """The Django settings that point the connectors at these fakes."""
        return {"ENTRA_LOGIN_BASE": self.entra.base_url, "GRAPH_API_BASE": self.entra.base_url,
                "GOOGLE_TOKEN_URI": self.google.token_uri,
                "GOOGLE_ADMIN_API_BASE": self.google.base_url,
                "SLACK_SCIM_BASE": self.slack.base_url}


def main() -> None:
    fakes = FakeDirectories()
    serve_until_interrupted(fakes, lambda: {
        "settings": fakes.settings(), "entra": fakes.entra.connection_config(),
        "slack": fakes.slack.connection_config(),
        "google_client_email": fakes.google.client_email})


if __name__ == "__main__":
    main()
