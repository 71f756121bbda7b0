"""The compose run of issue 16's "done when", as far as a machine without a Docker engine
allows: ``docker compose -f platform/compose.yaml -f platform/compose.tiny-gpu.yaml
--profile gpu up`` on the CPU with the tiny model.

No engine runs here or in CI, so there are no images and no containers. What this does
instead: merges the two files as compose does (tests/compose.py; checked against a real
``docker compose config`` where one is installed), then runs the GPU worker's chain of
services as local processes from this checkout, each with its merged ``command`` and
``environment``: ``migrate`` on an empty database, ``gpu-model`` (must exit 0), then
``worker-gpu`` (the real Celery worker, production settings, ``tiny:sd``), polling its
``healthcheck`` until it passes (the worker registered), then stops it as ``docker compose
stop`` does (SIGTERM to the container's main process) and checks it exits cleanly.

What stands in for the engine: compose's network names ``postgres`` and ``redis`` become this
test's own PostgreSQL (a fresh database) and Redis; the ``models`` volume is a folder; the
image's ENV (PATH with the virtualenv and platform/bin, PYTHONPATH at the checkout) is
written out below; ``tini`` is left out (it only forwards the signal). Not covered: the image
build (Dockerfile, the CUDA torch wheel), MinIO and ``createbucket`` (the worker touches
storage only for a job), the container user and read-only source, compose's own ordering
and restart policies, and a real GPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from django.conf import settings

from . import compose

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "platform"
FILES = [PLATFORM / "compose.yaml", PLATFORM / "compose.tiny-gpu.yaml"]


def _project(environ: dict[str, str] | None = None) -> dict:
    # As on a shell where none of the files' ${VARIABLES} is set: their defaults.
    return compose.config(FILES, profiles=["gpu"], environ=environ or {})


# --- The merge --------------------------------------------------------------------------


def test_the_tiny_override_reaches_the_merged_gpu_services():
    services = _project()["services"]
    plain = compose.config(FILES[:1], profiles=["gpu"], environ={})["services"]
    worker, model = services["worker-gpu"], services["gpu-model"]
    for name in ("worker-gpu", "gpu-model"):
        assert plain[name]["environment"]["GPU_BASE_MODEL_PATH"] == "/models/base"
        assert services[name]["environment"]["GPU_BASE_MODEL_PATH"] == "tiny:sd"
        # The rest of the anchors' environment and compose.env are still there.
        assert services[name]["environment"]["HF_HUB_OFFLINE"] == "1"
        assert services[name]["environment"]["DJANGO_SECRET_KEY"].startswith("local-compose")
        assert services[name]["volumes"] == [
            {"type": "volume", "source": "models", "target": "/models"}]
    assert "deploy" in plain["worker-gpu"] and "deploy" not in worker  # !reset: no GPU asked
    # $$ reaches the container as $: the shell in the container reads the variable.
    assert model["command"][0].startswith('if [ -n "${GPU_BASE_MODEL_SOURCE:-}" ]')
    assert model["entrypoint"] == ["bash", "-c"] and "depends_on" not in model
    assert {k: v["condition"] for k, v in worker["depends_on"].items()} == {
        "migrate": "service_completed_successfully",
        "createbucket": "service_completed_successfully",
        "gpu-model": "service_completed_successfully", "redis": "service_healthy"}
    assert "worker-gpu" not in compose.config(FILES, environ={})["services"]  # gpu profile


def test_the_merger_follows_compose_on_interpolation_tags_and_lists(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "x-base: &base\n  environment: {A: '${A:-a}', B: '${B-b}', C: '$$C', D: x}\n"
        "  command: [one, two]\n  volumes: ['data:/data', './src:/src:ro']\n"
        "  ports: ['1:1']\n  deploy: {replicas: 2}\n  env_file: [{path: e.env}]\n"
        "services:\n  s:\n    <<: *base\n")
    (tmp_path / "b.yaml").write_text(
        "services:\n  s:\n    environment: [D=y, E]\n    command: three\n"
        "    volumes: ['other:/data']\n    ports: !override ['2:2']\n    deploy: !reset {}\n")
    (tmp_path / "e.env").write_text("# comment\nD=from-file\nF='quoted #'\nG=1 # note\n")
    s = compose.config([tmp_path / "a.yaml", tmp_path / "b.yaml"],
                       environ={"A": "", "B": "", "E": "shell"})["services"]["s"]
    assert s["environment"] == {"D": "y", "F": "quoted #", "G": "1", "A": "a", "B": "",
                                "C": "$C", "E": "shell"}
    assert s["command"] == ["three"] and "deploy" not in s and s["ports"] == ["2:2"]
    assert s["volumes"] == [{"type": "volume", "source": "other", "target": "/data"},
                            {"type": "bind", "source": "./src", "target": "/src",
                             "read_only": True}]
    with pytest.raises(ValueError, match="required variable X"):
        compose.interpolate("${X:?set it}", {})
    assert compose.interpolate("${X:+on}/${Y+on}/$Z", {"X": "1", "Y": "", "Z": "z"}) == "on/on/z"


def _real_compose() -> list[str] | None:
    """A real compose v2 or later (the plugin, or the standalone binary), when installed."""
    for argv in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(argv[0]):
            continue
        out = subprocess.run([*argv, "version"], capture_output=True, text=True, timeout=30)
        version = re.search(r"version v?(\d+)\.", out.stdout)
        if out.returncode == 0 and version and int(version[1]) >= 2:
            return argv
    return None


def _comparable(service: dict) -> dict:
    return {
        **{k: service.get(k) or None for k in ("image", "command", "entrypoint", "environment",
                                               "profiles", "restart")},
        "volumes": [(v["type"], v.get("source"), v["target"]) for v in service.get("volumes", [])],
        "healthcheck": (service.get("healthcheck") or {}).get("test"),
        "depends_on": {k: v["condition"] for k, v in (service.get("depends_on") or {}).items()},
        "deploy": "deploy" in service,
    }


def _unescaped(node):
    """``config`` writes a literal ``$`` back as ``$$``; the container gets ``$``."""
    if isinstance(node, str):
        return node.replace("$$", "$")
    if isinstance(node, dict):
        return {k: _unescaped(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unescaped(v) for v in node]
    return node


def test_the_merger_agrees_with_a_real_compose_where_one_is_installed(tmp_path):
    argv = _real_compose()
    if argv is None:
        pytest.skip("no docker compose v2 here (no plugin, no docker-compose binary)")
    out = subprocess.run(
        [*argv, *[a for f in FILES for a in ("-f", str(f))], "--profile", "gpu", "config",
         "--format", "json"], capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    real = _unescaped(json.loads(out.stdout))["services"]
    ours = _project()["services"]
    assert sorted(real) == sorted(ours)
    for name in ours:
        assert _comparable(ours[name]) == _comparable(real[name]), name


# --- The run ----------------------------------------------------------------------------

_TEST_PREFIX = "likeness-test-"  # every key of the test settings' has it; the run's none


class _Host:
    """Runs compose services as local processes: what the engine would have provided."""

    def __init__(self, tmp_path: Path, *, database_url: str, redis_url: str,
                 compose_owner: str) -> None:
        self.tmp_path, self.database_url, self.redis_url = tmp_path, database_url, redis_url
        self.compose_owner = compose_owner
        (tmp_path / "home").mkdir()
        # platform/Dockerfile's ENV, with this checkout for /app and /opt/venv.
        self.image_env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(PLATFORM / "bin"),
                                     "/usr/local/bin", "/usr/bin", "/bin"]),
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(tmp_path / "home"),
        }

    def env(self, service: dict) -> dict[str, str]:
        env = dict(service["environment"])
        # Compose's network: the bundled services by name, here this test's own. The tables'
        # owner (the image's POSTGRES_USER) becomes this test's own user; the application's
        # login role keeps its name and password (the migrate step creates it).
        owner = urlsplit(self.database_url)
        for key in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
            if key not in env:
                continue
            url = urlsplit(env[key])
            assert url.hostname == "postgres", env[key]
            if url.username == self.compose_owner:
                env[key] = self.database_url
            else:
                env[key] = url._replace(netloc=f"{url.username}:{url.password}@"
                                               f"{owner.hostname}:{owner.port}",
                                        path=owner.path).geturl()
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"
        env["REDIS_URL"] = self.redis_url
        for volume in service.get("volumes", []):
            assert volume["type"] == "volume", volume  # named volumes only: no host paths
            folder = self.tmp_path / "volumes" / volume["source"]
            folder.mkdir(parents=True, exist_ok=True)
            target = volume["target"]
            env = {k: str(folder) + v[len(target):] if v == target or v.startswith(target + "/")
                   else v for k, v in env.items()}
        return {**self.image_env, **env}

    @staticmethod
    def argv(service: dict) -> list[str]:
        # The image's ENTRYPOINT is tini, which only forwards signals: left out.
        return [*(service.get("entrypoint") or []), *service["command"]]

    def run(self, service: dict, *, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(service), cwd=ROOT, env=self.env(service), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)

    def healthcheck(self, service: dict) -> subprocess.CompletedProcess:
        check = service["healthcheck"]
        kind, *rest = check["test"]
        assert kind in ("CMD", "CMD-SHELL"), kind
        argv = rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]
        return subprocess.run(argv, cwd=ROOT, env=self.env(service), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=_seconds(check["timeout"]))

    def start(self, service: dict) -> _Process:
        return _Process(subprocess.Popen(
            self.argv(service), cwd=ROOT, env=self.env(service), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True))


class _Process:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.lines = process, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def tail(self, count: int = 40) -> str:
        return "".join(self.lines[-count:])

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _seconds(duration: str) -> float:
    """A compose duration ("1m30s", "20s")."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


@pytest.fixture
def compose_database():
    """An empty database for the run's ``migrate``, dropped afterwards."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_compose"
    admin = dict(dbname="postgres", host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
                 user=db["USER"], password=db["PASSWORD"] or None, autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    yield f"postgres://{auth}@{admin['host']}:{admin['port']}/{name}"
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # The application's login role the run's migrate created (roles are cluster-wide).
        conn.execute(f'DROP ROLE IF EXISTS "{_login_role(name)}"')


def _login_role(database: str) -> str:
    return f"{database}_web"


@pytest.fixture
def compose_redis():
    """The test Redis, as the run's services use it: production settings, no key prefix.
    Whatever the run wrote there (heartbeat, Celery's bindings) is deleted afterwards; the
    test settings' keys all carry a prefix and are never touched."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*client.keys(":1:generation:gpu-workers*"), "_kombu.binding.default")
    before = {k for k in client.scan_iter() if _TEST_PREFIX.encode() not in k}
    yield settings.REDIS_URL
    ours = [k for k in client.scan_iter() if _TEST_PREFIX.encode() not in k and k not in before]
    if ours:
        client.delete(*ours)


@pytest.mark.slow
def test_the_tiny_gpu_compose_run_verifies_the_model_and_the_worker_registers(
        tmp_path, compose_database, compose_redis):
    login = _login_role(urlsplit(compose_database).path.lstrip("/"))
    services = _project({"LIKENESS_DB_USER": login})["services"]
    host = _Host(tmp_path, database_url=compose_database, redis_url=compose_redis,
                 compose_owner="likeness")
    worker = services["worker-gpu"]
    started = time.monotonic()
    # What worker-gpu waits for, in compose's order: each must complete successfully.
    for name in ("migrate", "gpu-model"):
        assert worker["depends_on"][name]["condition"] == "service_completed_successfully"
        done = host.run(services[name], timeout=240)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout[-4000:]}"
    assert "tiny:sd: built in code, nothing to verify" in done.stdout
    # Every service but migrate connects as the application's login role, which migrate
    # made: not the owner, no bypass, held by row-level security.
    assert urlsplit(host.env(worker)["DATABASE_URL"]).username == login
    with psycopg.connect(compose_database) as conn:
        assert conn.execute(
            "SELECT rolsuper, rolbypassrls, pg_has_role(rolname, 'likeness_app', 'MEMBER') "
            "FROM pg_roles WHERE rolname = %s", [login]).fetchall() == [(False, False, True)]

    # Before the worker runs, its healthcheck fails: it tests the registration, nothing less.
    probe = host.healthcheck(worker)
    assert probe.returncode != 0 and "is not registered" in probe.stdout, probe.stdout

    process = host.start(worker)
    try:
        check = worker["healthcheck"]
        # As long as compose gives it before calling it unhealthy.
        deadline = time.monotonic() + _seconds(check["start_period"]) + (
            _seconds(check["interval"]) * check["retries"])
        while True:
            probe = host.healthcheck(worker)
            if probe.returncode == 0:
                break
            assert process.process.poll() is None, f"worker-gpu exited:\n{process.tail()}"
            assert time.monotonic() < deadline, (
                f"worker-gpu never became healthy:\n{probe.stdout}\n{process.tail()}")
            time.sleep(1)
        assert "is registered" in probe.stdout
        assert any("is announcing itself" in line for line in process.lines), process.tail()
        registered = time.monotonic() - started

        # docker compose stop: SIGTERM to the main process (tini passes it to celery), which
        # shuts down warm; compose would wait stop_grace_period before a SIGKILL.
        assert _seconds(worker["stop_grace_period"]) >= 60
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=60) == 0, process.tail()
        time.sleep(0.5)
        assert not process.group_alive(), "a pool process outlived the worker"
        assert any("Warm shutdown" in line for line in process.lines), process.tail()
    finally:
        process.kill()
    # Up to registration, for the record on a slow run (not a limit).
    print(f"compose run: registered after {registered:.0f} s, "
          f"stopped after {time.monotonic() - started:.0f} s")
