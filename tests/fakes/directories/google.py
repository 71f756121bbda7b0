"""Google's OAuth token endpoint for service accounts and the Admin SDK Directory API."""


import base64
import binascii
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .base import FakeDirectory, FakeUser, RecordedRequest, _Handler, jpeg_size

GOOGLE_SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
# The audience google-auth puts in every service-account grant (and Google expects).
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

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

