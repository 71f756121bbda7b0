"""Sessions are read from the shared cache and written through to the database.

Every request under /c/<company>/ used to read its session row; with Redis in front of it, a
signed-in request reads none. What must still hold: signing out ends the session for every
process (the cache is shared, so no copy lives on), and a session whose cached copy is gone
is read from the database again.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

SELFIES = "/c/alpha/selfies/"


def _session_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "django_session" in q["sql"]]


def test_a_signed_in_request_reads_no_session_row(tenant_a):
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client = tenant_a.client_for(tenant_a.member)
    client.get(SELFIES)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(SELFIES).status_code in (200, 302)
    assert _session_reads(queries) == []


def test_a_session_dropped_from_the_cache_is_read_from_the_database(tenant_a):
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX

    client = tenant_a.client_for(tenant_a.member)
    client.get(SELFIES)
    cache.delete(KEY_PREFIX + client.cookies[settings.SESSION_COOKIE_NAME].value)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(SELFIES)
    assert response.status_code in (200, 302)
    assert response.get("Location", "").find(reverse("login")) == -1  # still signed in
    assert len(_session_reads(queries)) == 1


def test_signing_out_ends_the_session_everywhere(tenant_a, client):
    signed_in = tenant_a.client_for(tenant_a.member)
    signed_in.get(SELFIES)
    cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    signed_in.post(reverse("logout"))
    # Another browser (or process) presenting the old cookie is not signed in.
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = client.get(SELFIES)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
