"""A DNS server on 127.0.0.1 (UDP) that answers TXT queries from a dict, built with
dnspython's own message classes: the resolver code under test speaks real DNS to it.

Unknown names get NXDOMAIN; ``silent = True`` makes it drop every query (a resolver that
never answers), to prove the lookup gives up after its timeout.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest


class FakeDnsServer:
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.silent = False
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def txt(self, name: str, *values: str) -> None:
        self.records.setdefault(name.rstrip(".").lower(), []).extend(values)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - garbage on the wire: ignore it like a server would
                continue
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.queries.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            values = self.records.get(name)
            if values is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                response.answer.append(dns.rrset.from_text_list(
                    question.name, 60, "IN", "TXT", [f'"{v}"' for v in values]))
            self._sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def dns_server(settings) -> Iterator[FakeDnsServer]:
    server = FakeDnsServer()
    settings.DNS_NAMESERVERS = [server.address]
    settings.DNS_TIMEOUT_SECONDS = 1.0
    yield server
    server.close()
