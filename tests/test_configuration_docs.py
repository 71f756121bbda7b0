"""Every environment variable the settings read is documented for self-hosters."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(r'env(?:\.(?:str|bool|int|float|list|db|email_url))?\(\s*"([A-Z0-9_]+)"')


def _variables_read() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "config" / "settings").rglob("*.py"):
        found |= set(READ.findall(path.read_text()))
    return found


def test_settings_read_variables():
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= _variables_read()


def test_every_variable_is_in_env_example_and_readme():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in sorted(_variables_read()):
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from the README's configuration table"


def test_platform_holds_no_python_package():
    platform = ROOT / "platform"
    assert not list(platform.rglob("__init__.py"))
    assert not list(platform.rglob("*.py"))


def test_health_check_answers_any_host_over_plain_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["headshots.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200 and response.content == b"ok"
