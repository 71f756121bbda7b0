"""The settings modules, each loaded in a fresh process with a controlled environment.

Nothing here touches a database: ``check`` without ``--database`` and
``shell -c`` only import the settings.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "".join(
        secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(64)
    ),
    "DJANGO_ALLOWED_HOSTS": "headshots.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/likeness",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "likeness-test",
    "SITE_URL": "https://headshots.example.com",
}

PRINT_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'module': s.SETTINGS_MODULE, 'debug': s.DEBUG,"
    "'db_engine': s.DATABASES['default']['ENGINE'], 'db_name': str(s.DATABASES['default']['NAME']),"
    "'storage': s.STORAGES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
    "'email': s.EMAIL_BACKEND, 'cache': s.CACHES['default']['BACKEND'],"
    "'secret_key': s.SECRET_KEY, 'session_cookie_secure': s.SESSION_COOKIE_SECURE,"
    "'broker': s.CELERY_BROKER_URL}))"
)


CHECK_DEPLOY = ["check", "--deploy", "--fail-level", "WARNING"]
SHOW_SETTINGS = ["shell", "--no-imports", "-c", PRINT_SETTINGS]
REQUIRED = ["DJANGO_SECRET_KEY", "AWS_STORAGE_BUCKET_NAME", "DATABASE_URL", "REDIS_URL",
            "DJANGO_ALLOWED_HOSTS"]
WEAK = {
    "embedded key": ("DJANGO_SECRET_KEY", "embedded-dev-key-not-for-production-use",
                     "security.W009"),
}

# Every process this module needs: (manage.py arguments, environment besides PATH and HOME).
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "deploy": (CHECK_DEPLOY, PRODUCTION_ENV),
    "production settings": (SHOW_SETTINGS, {**PRODUCTION_ENV, "DJANGO_DEBUG": "true"}),
    "embedded default": (SHOW_SETTINGS, {}),
    "unknown embedding runtime": (["check"], {"FACE_EMBEDDING_RUNTIME": "onnx"}),
    "no scoring threads": (["check"], {"SCORING_THREADS": "0"}),
    **{f"weak {key}": (CHECK_DEPLOY, {**PRODUCTION_ENV, name: value})
       for key, (name, value, _) in WEAK.items()},
    **{f"missing {name}": (["check"], {k: v for k, v in PRODUCTION_ENV.items() if k != name})
       for name in REQUIRED},
}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    home: Path


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[str, Ran]:
    """Start every process at once (each takes about a second), then collect them."""
    # base.py reads an optional .env file, which would leak into these environments.
    if (ROOT / ".env").exists():
        pytest.skip("a .env file in the project root would change what these tests load")
    started = {}
    for key, (args, env) in CASES.items():
        home = tmp_path_factory.mktemp("home")
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **env}
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started[key] = (process, home)
    results = {}
    for key, (process, home) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[key] = Ran(process.returncode, stdout, stderr, home)
    return results


def _settings(run: Ran) -> dict:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


# --- Production ----------------------------------------------------------------------------------


def test_production_passes_the_deploy_checks(ran):
    run = ran["deploy"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout
    assert "WARNING" not in run.stderr and "ERROR" not in run.stderr


@pytest.mark.parametrize("key", list(WEAK))
def test_weak_production_values_fail_the_deploy_checks(ran, key):
    run = ran[f"weak {key}"]
    assert run.returncode != 0
    assert WEAK[key][2] in run.stdout + run.stderr


def test_an_unknown_embedding_runtime_is_refused_at_start(ran):
    run = ran["unknown embedding runtime"]
    assert run.returncode != 0
    assert "FACE_EMBEDDING_RUNTIME must be 'numpy' or 'dlib', not 'onnx'" in run.stderr


def test_no_scoring_threads_is_refused_at_start(ran):
    run = ran["no scoring threads"]
    assert run.returncode != 0
    assert "SCORING_THREADS must be 1 or more (1: one candidate at a time), not 0." in run.stderr


@pytest.mark.parametrize("missing", REQUIRED)
def test_production_refuses_to_start_without_a_required_variable(ran, missing):
    run = ran[f"missing {missing}"]
    assert run.returncode != 0
    last_line = run.stderr.strip().splitlines()[-1]
    assert missing in last_line, run.stderr


def test_production_resolves_to_the_real_services(ran):
    # DJANGO_DEBUG cannot switch debugging on in production.
    values = _settings(ran["production settings"])
    assert values["module"] == "config.settings.production"
    assert values["debug"] is False
    assert values["db_engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "likeness"
    assert values["storage"] == "storages.backends.s3.S3Storage"
    assert values["eager"] is False
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["secret_key"] == PRODUCTION_ENV["DJANGO_SECRET_KEY"]
    assert values["session_cookie_secure"] is True


# --- The embedded default ------------------------------------------------------------------------


def test_empty_environment_gives_the_embedded_default(ran):
    """No variables at all: SQLite, local files, tasks to a worker process through a folder
    (no broker server; never inside a request), e-mail to the console."""
    run = ran["embedded default"]
    values = _settings(run)
    assert values["module"] == "config.settings.local"
    assert values["debug"] is True
    assert values["db_engine"] == "django.db.backends.sqlite3"
    assert values["db_name"].endswith("db.sqlite3")
    assert values["storage"] == "django.core.files.storage.FileSystemStorage"
    assert values["eager"] is False
    assert values["broker"] == "filesystem://"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["secret_key"] == "embedded-dev-key-not-for-production-use"
    assert values["session_cookie_secure"] is False
    assert not list(run.home.iterdir())  # nothing was written
