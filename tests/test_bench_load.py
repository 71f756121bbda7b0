"""bench/load.py's reading of nginx's access log: gunicorn's own share of each upload."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "load.py"


def _load_module(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # its helpers lie beside it
    spec = importlib.util.spec_from_file_location("bench_load", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_each_phase_reads_only_the_uploads_answered_since_the_last(tmp_path, monkeypatch):
    load = _load_module(monkeypatch)
    proxy = load.Proxy(process=None, port=0, dir=tmp_path)
    assert proxy.upstream_seconds() == []  # nginx has logged nothing yet
    log = tmp_path / "access.log"
    # A status question, two uploads, and one nginx answered itself (no upstream time).
    log.write_text("GET 0.012\nPOST 0.150\nPOST 0.640\nPOST -\n")
    assert proxy.upstream_seconds() == [0.150, 0.640]
    with log.open("a") as appending:  # nginx goes on appending to the same file
        appending.write("POST 0.200\n")
    assert proxy.upstream_seconds() == [0.200]
    assert "access_log {dir}/access.log upstream" in load.NGINX_CONF
