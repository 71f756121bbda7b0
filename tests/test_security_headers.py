"""Security headers on every answer: a Content-Security-Policy without 'unsafe-inline', the
frame, referrer, content-type, opener and permissions policies; and no template left with an
inline script, style or event handler that the policy would block."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", ["/", "/login/", "/api/v1/docs/", "/api/v1/people/",
                                  "/no-such-page/", "/h/x/"])
def test_every_answer_carries_the_headers(db, path):
    response = Client().get(path)
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_no_template_has_inline_script_style_or_handlers():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if "emails" in template.parts:  # e-mail is not served under the policy
            continue
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or "<style" in text \
                or re.search(r"\sstyle=", text) or re.search(r"\son[a-z]+=", text) \
                or "javascript:" in text:
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


def test_production_upgrades_insecure_requests_and_allows_the_buckets_images():
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "headshots.example.com",
           "DATABASE_URL": "postgres://u@127.0.0.1/x", "REDIS_URL": "redis://127.0.0.1:6379/0",
           "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ENDPOINT_URL": "https://s3.example.net",
           "SITE_URL": "https://headshots.example.com"}
    code = ("import json; from django.conf import settings as s; "
            "print(json.dumps(s.CONTENT_SECURITY_POLICY['DIRECTIVES']))")
    out = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    directives = json.loads(out.stdout.strip().splitlines()[-1])
    assert directives["upgrade-insecure-requests"] is True
    assert "https://s3.example.net" in directives["img-src"]
