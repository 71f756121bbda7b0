"""The web process keeps an idle connection open longer than the proxy in front of it.

ingress-nginx (platform/k8s/ingress.yaml) keeps idle connections to the pods for 60 s and
sends the next request on one of them. Had gunicorn closed it first (its own default is 2 s),
a request sent at that moment fails, and nginx does not resend a POST: an upload ends in a
502. bench/load.py found it behind nginx. Here the real start script serves two requests on
one connection with an idle gap longer than gunicorn's default between them.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INGRESS_UPSTREAM_KEEPALIVE = 60  # ingress-nginx's upstream-keepalive-timeout default


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(tmp_path):
    port = _free_port()
    # The script runs `gunicorn` by name: the one beside this interpreter (CI calls the venv's
    # python without activating the venv).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "PORT": str(port), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "1",
           "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("GUNICORN_KEEPALIVE", None)
    process = subprocess.Popen([str(ROOT / "platform" / "bin" / "start-web")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("start-web did not start")
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _get(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    return response.status


def test_an_idle_connection_outlives_gunicorns_default(web):
    connection = http.client.HTTPConnection("127.0.0.1", web, timeout=10)
    assert _get(connection) == 200
    first = connection.sock
    time.sleep(3.5)  # past gunicorn's own keep-alive (2 s)
    assert _get(connection) == 200  # raises RemoteDisconnected where gunicorn had closed it
    assert connection.sock is first
    connection.close()


def test_the_start_script_waits_longer_than_the_ingress():
    script = (ROOT / "platform" / "bin" / "start-web").read_text()
    default = int(script.split('--keep-alive "${GUNICORN_KEEPALIVE:-', 1)[1].split("}", 1)[0])
    assert default > INGRESS_UPSTREAM_KEEPALIVE
