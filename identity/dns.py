"""The one place DNS is asked anything: TXT records for domain verification.

dnspython with a total time limit (DNS_TIMEOUT_SECONDS). DNS_NAMESERVERS names the
resolvers to ask ("ip" or "ip:port"); empty: the system's. Tests start a small DNS server on
loopback and point DNS_NAMESERVERS at it, so the same code runs as in production.
"""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings


class DnsLookupFailed(Exception):
    """The resolvers did not answer in time, or answered with an error (not "no record")."""


def _resolver() -> dns.resolver.Resolver:
    servers = list(getattr(settings, "DNS_NAMESERVERS", []) or [])
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [server.rsplit(":", 1)[0] if server.count(":") == 1 else server
                                for server in servers]
        ports = {server.rsplit(":", 1)[1] for server in servers if server.count(":") == 1}
        if ports:
            resolver.port = int(ports.pop())
    resolver.lifetime = float(getattr(settings, "DNS_TIMEOUT_SECONDS", 5.0))
    resolver.timeout = resolver.lifetime
    return resolver


def txt_records(name: str) -> list[str]:
    """Every TXT string at ``name`` (records made of several strings are joined). An absent
    name or record is an empty list; no answer in time raises DnsLookupFailed."""
    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        raise DnsLookupFailed(f"No DNS answer for {name}.") from exc
    except dns.exception.DNSException as exc:
        raise DnsLookupFailed(f"DNS lookup of {name} failed: {exc.__class__.__name__}.") from exc
    records = []
    for rdata in answer:
        records.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))
    return records
