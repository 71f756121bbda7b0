"""A small OpenID Connect provider on 127.0.0.1, as strict as the real ones.

- ``/.well-known/openid-configuration`` (discovery), ``/jwks`` (its RS256 key),
  ``/authorize`` (the code flow: registered client and exact redirect URI only, ``openid``
  scope required, PKCE S256 recorded), ``/token`` (client authentication by basic or post,
  codes single-use and short-lived, the redirect URI and the PKCE verifier checked),
  ``/userinfo`` (bearer access tokens it issued).
- id_tokens are RS256-signed with ``kid``, carry iss, aud, sub, iat, exp, the nonce of the
  authorization request, and the person's claims.

Tests choose who "signs in" at the provider (``login_as``) and can make the next id_token
wrong in one way (``tamper``: another audience, issuer or nonce, expired, signed by another
key, unsigned) to prove that the relying party refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeOIDCProvider:
    def __init__(self) -> None:
        self.key = _key()
        self.other_key = _key()
        self.kid = secrets.token_hex(4)
        self.clients: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.person: dict[str, Any] = {}
        self.tampering: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self.down = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- What tests set -------------------------------------------------------------------
    def register(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = {"secret": secret, "redirect_uri": redirect_uri}

    def login_as(self, email: str, **claims: Any) -> None:
        self.person = {"sub": claims.pop("sub", hashlib.sha256(email.encode()).hexdigest()[:16]),
                       "email": email, "email_verified": True, **claims}

    def tamper(self, **changes: Any) -> None:
        self.tampering = changes

    def authorize(self, url: str) -> str:
        """The browser at the provider: returns where the provider redirects to."""
        import requests

        response = requests.get(url, allow_redirects=False, timeout=5)
        assert response.status_code == 302, (response.status_code, response.text)
        return response.headers["Location"]

    # --- The provider -----------------------------------------------------------------------
    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def _id_token(self, client_id: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 300,
                  **self.person}
        if nonce is not None:
            claims["nonce"] = nonce
        changes = dict(self.tampering)
        self.tampering = {}
        key, alg = self.key, "RS256"
        if changes.pop("expired", False):
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        if changes.pop("other_key", False):
            key = self.other_key
        if changes.pop("unsigned", False):
            key, alg = None, "none"
        claims.update(changes)
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": self.kid})

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, error: str, description: str = "") -> None:
                self._json(status, {"error": error, "error_description": description})

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append(("GET", parts.path))
                if fake.down:
                    return self._error(503, "temporarily_unavailable")
                if parts.path == "/.well-known/openid-configuration":
                    return self._json(200, fake.discovery())
                if parts.path == "/jwks":
                    return self._json(200, fake.jwks())
                if parts.path == "/authorize":
                    return self._authorize(dict(parse_qsl(parts.query)))
                if parts.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in fake.access_tokens:
                        return self._error(401, "invalid_token")
                    return self._json(200, fake.access_tokens[token])
                return self._error(404, "not_found")

            def _authorize(self, q: dict) -> None:
                client = fake.clients.get(q.get("client_id", ""))
                # Never redirect to an unregistered URI: show an error page instead.
                if client is None or q.get("redirect_uri") != client["redirect_uri"]:
                    return self._error(400, "invalid_request", "unknown client or redirect_uri")
                if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
                    return self._error(400, "invalid_request", "code flow with openid only")
                if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
                    return self._error(400, "invalid_request", "S256 only")
                code = secrets.token_urlsafe(24)
                fake.codes[code] = {"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                                    "nonce": q.get("nonce"), "challenge": q.get("code_challenge"),
                                    "expires": time.time() + 60}
                location = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
                self.send_response(302)
                self.send_header("Location", location)
                self.end_headers()

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append(("POST", parts.path))
                if parts.path != "/token":
                    return self._error(404, "not_found")
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                client_id, secret = form.get("client_id"), form.get("client_secret")
                basic = self.headers.get("Authorization", "")
                if basic.startswith("Basic "):
                    decoded = base64.b64decode(basic[6:]).decode()
                    client_id, _, secret = decoded.partition(":")
                client = fake.clients.get(client_id or "")
                if client is None or not secrets.compare_digest(client["secret"], secret or ""):
                    return self._error(401, "invalid_client")
                if form.get("grant_type") != "authorization_code":
                    return self._error(400, "unsupported_grant_type")
                grant = fake.codes.pop(form.get("code", ""), None)  # single use
                if grant is None or grant["expires"] < time.time() or grant["client_id"] != client_id:
                    return self._error(400, "invalid_grant", "unknown, used or expired code")
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._error(400, "invalid_grant", "redirect_uri mismatch")
                if grant["challenge"]:
                    verifier = form.get("code_verifier", "")
                    digest = base64.urlsafe_b64encode(
                        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                    if digest != grant["challenge"]:
                        return self._error(400, "invalid_grant", "PKCE verification failed")
                access = secrets.token_urlsafe(24)
                fake.access_tokens[access] = dict(fake.person)
                without_id_token = fake.tampering.pop("no_id_token", False)
                body = {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                        "id_token": fake._id_token(client_id, grant["nonce"])}
                if without_id_token:
                    body.pop("id_token")
                return self._json(200, body)

        return Handler


@pytest.fixture
def oidc_provider() -> Iterator[FakeOIDCProvider]:
    provider = FakeOIDCProvider()
    yield provider
    provider.close()
