"""Requests no client library would send: header values and paths as raw bytes (latin-1,
invalid UTF-8), written to a socket. Whatever comes in, the answer is never a 5xx.

Apart from tests/test_malformed_requests.py because it needs a live server, so committed
data, which that module's company (built once for the module, in a transaction of its own)
cannot give.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

RAW = [
    b"GET /c/alpha/\xff\xfe/ HTTP/1.1",
    b"GET /login/?next=\xff\xfe&x=%FF HTTP/1.1",
    b"GET /invite/%FF%FE/ HTTP/1.1",
    b"GET /api/v1/people/ HTTP/1.1\r\nAuthorization: Bearer \xff\xfe",
    b"GET /api/v1/people/?cursor=\xff HTTP/1.1\r\nAuthorization: Basic \xe9",
    b"POST /webhooks/replicate/ HTTP/1.1\r\nwebhook-id: \xff\xfe\r\nwebhook-timestamp: 1\r\n"
    b"webhook-signature: v1,\xe9\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /webhooks/stripe/ HTTP/1.1\r\nStripe-Signature: t=1,v1=\xff\r\nContent-Length: 2"
    b"\r\n\r\n{}",
    b"GET /login/ HTTP/1.1\r\nCookie: sessionid=\xff\xfe; csrftoken=\x01",
    b"GET /api/v1/people/ HTTP/1.1\r\nAccept: application/json;q=\xff",
]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_raw_bytes_no_client_library_would_send_never_answer_5xx(live_server, tenant_a):
    """Header values and paths as raw bytes (latin-1, invalid UTF-8), over a socket."""
    address = urlsplit(live_server.url)
    statuses = {}
    for request_line in RAW:
        head, _, body = request_line.partition(b"\r\n\r\n")
        raw = head + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n" + body
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(raw)
            answer = sock.recv(64)
        statuses[request_line[:60]] = int(answer.split(b" ", 2)[1])
    assert all(status < 500 for status in statuses.values()), statuses
