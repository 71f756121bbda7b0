"""The API's outside input: cursors tampered with, ids beyond 64 bits, deeply nested JSON.
Each is a clear 400 that changes nothing; the genuine cursor still pages."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from delivery.api.keys import api_key_create

from .helpers import candidate_for, db_fingerprint

LISTS = ["/api/v1/people/", "/api/v1/jobs/", "/api/v1/headshots/"]


def _client(tenant, scope: str = "read") -> Client:
    _, raw = api_key_create(company=tenant.company, actor=tenant.owner, name="t", scope=scope)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", raise_request_exception=False)


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.fixture
def pages(tenant_a):
    from generation.models import Headshot

    for membership in (tenant_a.member, tenant_a.admin):
        candidate = candidate_for(membership)
        Headshot.objects.create(company=tenant_a.company, membership=membership,
                                candidate=candidate)
    return _client(tenant_a)


@pytest.mark.parametrize("path", LISTS)
def test_the_genuine_next_cursor_pages_on(pages, path):
    first = pages.get(path, {"page_size": 1}).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    second = pages.get(path, {"page_size": 1, "cursor": cursor})
    assert second.status_code == 200 and second.json()["results"] != first["results"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", [
    _cursor("p=2026"), _cursor("p=garbage"), _cursor("p=" + "9" * 30),
    _cursor("p=2026-01-01 00:00:00"),  # no time zone
    _cursor("p=2026-01-01T00:00:00+99:00"), _cursor("p=9999-12-31T23:59:59-15:00"),
    _cursor("p=2026-02-30T00:00:00Z"), _cursor("r=" + "9" * 5000), _cursor("o=-1"),
    _cursor("p=\u00e9"), "%FF",
])
def test_a_tampered_cursor_is_a_400(pages, path, cursor):
    response = pages.get(path, {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()


@pytest.mark.parametrize("cursor", [
    _cursor("o=" + "9" * 400), _cursor("r=7"),
    _cursor("2026-01-01T00:00:00+00:00|" + "9" * 400 + "|0"),  # a position beyond 64 bits
    _cursor("2026-01-01T00:00:00+00:00|5|7"),  # a direction that is neither 0 nor 1
])
def test_an_offset_or_direction_out_of_range_is_a_clear_400(pages, cursor):
    pages.get("/api/v1/people/")  # the key's last use is recorded once, before the fingerprint
    before = db_fingerprint()
    response = pages.get("/api/v1/people/", {"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()
    assert db_fingerprint() == before


@pytest.mark.parametrize("path", LISTS)
def test_every_changed_character_of_a_real_cursor_is_a_4xx(pages, path):
    first = pages.get(path, {"page_size": 1}).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    for index in range(len(cursor)):
        for replacement in "A/9=":
            changed = cursor[:index] + replacement + cursor[index + 1:]
            status = pages.get(path, {"page_size": 1, "cursor": changed}).status_code
            assert status in (200, 400), (changed, status)


@pytest.mark.parametrize(("path", "param"), [("/api/v1/people/", "team"),
                                             ("/api/v1/headshots/", "team"),
                                             ("/api/v1/jobs/", "person")])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 400, "-1", "\u00b2", "1e3"])
def test_ids_beyond_64_bits_are_a_400(pages, path, param, value):
    response = pages.get(path, {param: value})
    assert response.status_code == 400 and param in response.json()


def test_the_largest_64_bit_id_finds_nothing(pages):
    response = pages.get("/api/v1/jobs/", {"person": str(2**63 - 1)})
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("body", [
    b"[" * 5000 + b"]" * 5000,
    b'{"email": "a@alpha.example", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"email": "a@alpha.example", "team": NaN}',
    b"\xff\xfe",
])
def test_deeply_nested_or_broken_json_is_a_400_and_changes_nothing(tenant_a, body):
    client = _client(tenant_a, "write")
    client.get("/api/v1/people/")  # the key's first use is recorded: not part of the test
    before = db_fingerprint()
    response = client.post("/api/v1/invitations/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert db_fingerprint() == before


@pytest.mark.parametrize("payload", [
    {"email": "x" * 250 + "@alpha.example"}, {"email": "a@alpha.example", "team": 2**64},
    {"email": "a@alpha.example", "team": 0}, {"email": "a@alpha.example", "full_name": "x" * 201},
])
def test_values_longer_or_larger_than_their_columns_are_a_400(tenant_a, payload):
    client = _client(tenant_a, "write")
    client.get("/api/v1/people/")  # the key's first use is recorded: not part of the test
    before = db_fingerprint()
    response = client.post("/api/v1/invitations/", data=json.dumps(payload),
                           content_type="application/json")
    assert response.status_code == 400
    assert db_fingerprint() == before


def test_the_docs_page_answers_options_with_405(db):
    assert Client().options("/api/v1/docs/").status_code == 405
    assert Client().get("/api/v1/docs/").status_code == 200
