"""Microsoft Entra ID's token endpoint and the slice of Microsoft Graph we use."""


import re
import secrets
import uuid
from typing import Any
from urllib.parse import unquote

from .base import FakeDirectory, RecordedRequest, _Handler, jpeg_size

GRAPH_SCOPE = "https://graph.microsoft.com/.default"

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

    def _may_write_photos(self, handler: _Handler, request: RecordedRequest) -> bool:
        """Whether the app was granted a permission that writes photos; if not, Graph's 403."""
        if self.permissions & {"ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"}:
            return True
        self._error(handler, request, 403, "Access is denied. Check credentials and try again.",
                    "ErrorAccessDenied")
        return False

    def _photo_delete(self, handler: _Handler, request: RecordedRequest, user_id: str) -> None:
        """Graph's DELETE /users/{id}/photo/$value: 204, or 404 when there is no photo."""
        if not self._may_write_photos(handler, request):
            return
        user = self.user_by_id(user_id)
        if user is None or user.photo is None:
            self._error(handler, request, 404, "The photo wasn't found.", "ImageNotFound")
            return
        with self._lock:
            user.photo = None
        handler.reply(204)

    def _photo(self, handler: _Handler, request: RecordedRequest, user_id: str) -> None:
        if not self._may_write_photos(handler, request):
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

