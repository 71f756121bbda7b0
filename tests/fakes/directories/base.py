"""What the three directory fakes share: the recorded request, the user, injected
failures and stalls, bearer tokens and the request loop (each fake routes its own paths)."""


import io
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image

from ..loopback import LoopbackFake, LoopbackHandler


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

