"""The client's address behind load balancers and proxies, the same everywhere we record or
count one (the consent log, django-axes' login throttling).

Behind a proxy REMOTE_ADDR is the proxy's address; X-Forwarded-For lists the client and
every proxy before the last, but anyone can send that header, so only the entries our own
proxies added are believed: set TRUSTED_PROXY_HOPS (how many proxies of ours are in front)
or TRUSTED_PROXY_CIDRS (their networks). With neither, REMOTE_ADDR is the client.

Hand-written because django-ipware trusts proxies by string prefix, not by network, and
would need the same settings translated.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as a string, or None where it cannot be told."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    hops = int(getattr(settings, "TRUSTED_PROXY_HOPS", 0) or 0)
    cidrs = tuple(getattr(settings, "TRUSTED_PROXY_CIDRS", ()) or ())
    if remote is None or not (hops or cidrs):
        return str(remote) if remote else None
    forwarded = [_address(part) for part in
                 request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    chain = [*forwarded, remote]  # the client first, our nearest proxy last
    if cidrs:
        networks = _networks(cidrs)
        for address in reversed(chain):
            if address is None:
                return None  # a garbled entry where our own proxies write: believe nothing
            if not any(address in network for network in networks):
                return str(address)
        return str(chain[0])  # every hop is ours: the first one is the client
    # The last `hops` addresses are our proxies (REMOTE_ADDR the nearest of them).
    if len(chain) <= hops:
        return str(remote)  # fewer hops than our proxies: it bypassed them, the peer is it
    address = chain[-(hops + 1)]
    return str(address) if address else None
