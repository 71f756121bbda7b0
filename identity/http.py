"""The one way this app reaches out over HTTP: to a company's identity provider (OIDC
discovery, keys, tokens; SAML metadata) and to a domain's verification file.

Every request has a timeout (SSO_TIMEOUT_SECONDS) and goes only to public addresses, since
the URLs come from a company admin and must not aim our servers at the inside of our own
network; SSO_ALLOW_PRIVATE_URLS (or DEBUG) allows private ones for local providers.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings


class UrlRefused(ValueError):
    """The URL is malformed or points at a private, local or reserved address."""


def _allow_private() -> bool:
    return bool(getattr(settings, "SSO_ALLOW_PRIVATE_URLS", False)) or bool(settings.DEBUG)


def timeout() -> float:
    return float(getattr(settings, "SSO_TIMEOUT_SECONDS", 10.0))


def url_check(url: str, *, require_https: bool = True) -> str:
    """Return the URL if it may be fetched, or raise UrlRefused saying why."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"“{url}” is not a web address.") from exc
    allow_private = _allow_private()
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlRefused(f"“{url}” is not a web address.")
    if parts.scheme == "http" and require_https and not allow_private:
        raise UrlRefused("Only https:// addresses are accepted.")
    if allow_private:
        return url.strip()
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"“{parts.hostname}” cannot be found.") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global or ip.is_multicast:
            raise UrlRefused(f"“{parts.hostname}” is a private, local or reserved network "
                             "address.")
    return url.strip()


class GuardedSession(requests.Session):
    """A requests session that checks every URL it is asked for and always times out."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        url_check(url.decode() if isinstance(url, bytes) else url, require_https=False)
        kwargs.setdefault("timeout", timeout())
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


def fetch_text(url: str, *, max_bytes: int = 1_000_000) -> tuple[int, str]:
    """GET a small text document; (status, body). Raises UrlRefused or requests errors."""
    with GuardedSession() as session:
        response = session.get(url, stream=True)
        body = response.raw.read(max_bytes + 1, decode_content=True)
        response.close()
    if len(body) > max_bytes:
        raise UrlRefused("The document is too large.")
    return response.status_code, body.decode("utf-8", errors="replace")
