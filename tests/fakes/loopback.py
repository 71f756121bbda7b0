"""What every fake of an external service shares: an HTTP server on 127.0.0.1 (a free port
unless one is asked for), served from a thread, started and stopped like a context manager,
with a quiet request handler that knows how to answer.

A fake subclasses ``LoopbackFake`` and its handler ``LoopbackHandler``; the handler reaches
its fake as ``self.fake``. Parallel test workers never collide: each fake takes a free port.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) while the fake stalled is expected, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class LoopbackHandler(BaseHTTPRequestHandler):
    fake: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet tests

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, payload: Any = None, *, body: bytes | None = None,
              content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        """Answer with ``body``, or ``payload`` as JSON, or nothing."""
        data = body if body is not None else (b"" if payload is None
                                               else json.dumps(payload).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class LoopbackFake:
    """A fake service: ``start()`` serves it, ``stop()`` (or leaving ``with``) ends it."""

    name: ClassVar[str] = "service"
    server_version: ClassVar[str] = "Fake/1.0"
    handler: ClassVar[type[LoopbackHandler]] = LoopbackHandler

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: LoopbackServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):  # -> Self
        handler = type("Handler", (self.handler,), {"fake": self,
                                                    "server_version": self.server_version})
        self._server = LoopbackServer((self._host, self._port), handler)
        self._threads = [threading.Thread(target=self._server.serve_forever,
                                          kwargs={"poll_interval": 0.05},
                                          name=f"fake-{self.name}", daemon=True),
                         *self._workers()]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _workers(self) -> list[threading.Thread]:
        """More threads to run while the fake serves (e.g. webhook deliveries)."""
        return []

    def _stopping(self) -> None:
        """Release whatever would keep a thread from ending (stalled requests, timers)."""

    def __enter__(self):  # -> Self
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_interrupted(fake: Any, describe: Any) -> None:
    """For ``python -m tests.fakes.<name>``: start, print ``describe()`` as one JSON line
    (the URLs and secrets a client needs), serve until ^C."""
    fake.start()
    print(json.dumps(describe()), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
