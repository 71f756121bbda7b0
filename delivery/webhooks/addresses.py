"""Where a webhook may be sent (SSRF): with ``DEBUG`` off, endpoints must be https and may not
point at loopback, private or link-local addresses, checked when the endpoint is saved and
again, against the address actually connected to, at every delivery, unless
``WEBHOOK_ALLOW_PRIVATE_URLS`` is true."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from core.errors import ServiceError


def _allow_private() -> bool:
    """Test and development installations may send to http:// and to their own network."""
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False)) or bool(settings.DEBUG)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return _is_public(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _is_public(embedded):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def _public_addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to, or ServiceError if one of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ServiceError(f"We could not find the server “{host}”. Check the address.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or not all(_is_public(ip) for ip in addresses):
        raise ServiceError(
            f"“{host}” is a private, local or reserved network address: webhooks can only "
            "be sent to servers on the public internet."
        )
    return addresses


def webhook_url_clean(url: str) -> str:
    """The endpoint address, checked; ServiceError with a message for the admin if refused."""
    url = (url or "").strip()
    if not url:
        raise ServiceError("Enter the address that should receive the events.")
    if len(url) > 500:
        raise ServiceError("That address is too long: 500 characters at most.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ServiceError(f"“{url}” is not a valid web address.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ServiceError(
            "A webhook address must start with https:// (for example "
            "https://example.com/hooks/likeness); other kinds of address cannot receive events."
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ServiceError(f"“{url}” is not a valid web address.") from exc
    if parts.username is not None or parts.password is not None:
        raise ServiceError("Leave the user name and password out of the address: every "
                           "delivery is signed with the endpoint's secret instead.")
    if not _allow_private():
        if parts.scheme.lower() != "https":
            raise ServiceError("A webhook address must start with https://, so that events "
                               "are encrypted on their way.")
        _public_addresses(parts.hostname or "", port or 443)
    return url


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def target_for(url: str) -> Target:
    """Where to connect for ``url``. Outside test installations the name is resolved here,
    every address checked, and the connection pinned to a checked address (with the
    original Host and TLS server name), so a DNS answer that changes between the check
    and the connection cannot point the request at an internal service."""
    if _allow_private():
        return Target(url)
    parsed = httpx.URL(url)
    if parsed.scheme != "https":
        raise ServiceError("Not sent: the address does not use https://.")
    host = parsed.raw_host.decode("ascii")
    addresses = _public_addresses(host, parsed.port or 443)
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return Target(url)  # an address already: nothing to resolve differently later
    netloc = host if parsed.port is None else f"{host}:{parsed.port}"
    return Target(str(parsed.copy_with(host=str(addresses[0]))), headers={"Host": netloc},
                   extensions={"sni_hostname": host})
