"""An admin creates a key on the API page, and a script with only that key pulls the
approved headshots of a team over real HTTP."""

from __future__ import annotations

import io
import re

import pytest
import requests
from PIL import Image

from delivery.models import ApiKey

from .helpers import db_fingerprint
from .test_api import approve

PAGE = "/c/alpha/admin/api-keys/"


@pytest.mark.django_db(transaction=True)
def test_a_script_with_only_the_key_pulls_a_teams_headshots(live_server, tenant_a, settings):
    settings.SITE_URL = live_server.url
    approve(tenant_a.member)
    approve(tenant_a.admin)
    page = tenant_a.client_for(tenant_a.admin).post(
        PAGE, {"name": "Directory sync", "scope": "read"}).content.decode()
    secret = re.search(r'<code id="new-key">([^<]+)</code>', page).group(1)
    assert "not shown again" in page or "never shown again" in page

    # The script: nothing but the key and the base URL.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    listing = session.get(f"{live_server.url}/api/v1/headshots/",
                          params={"team": tenant_a.team.pk, "size": 512, "shape": "square"},
                          timeout=10).json()
    people = {h["person"]["email"] for h in listing["results"]}
    assert people == {"member@alpha.example", "admin@alpha.example"}
    for headshot in listing["results"]:
        image = Image.open(io.BytesIO(requests.get(headshot["url"], timeout=10).content))
        assert image.size == (512, 512)
    # The page never shows the secret again.
    again = tenant_a.client_for(tenant_a.admin).get(PAGE).content.decode()
    assert secret not in again and "Directory sync" in again


def test_revoking_on_the_page_stops_the_key(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    page = client.post(PAGE, {"name": "cron", "scope": "write"}).content.decode()
    secret = re.search(r'<code id="new-key">([^<]+)</code>', page).group(1)
    key = ApiKey.objects.for_company(tenant_a.company).get()
    assert client.post(f"{PAGE}{key.pk}/revoke/", {"confirm": "yes"}).status_code == 302
    from django.test import Client

    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/people/").status_code == 401


def test_members_and_outsiders_cannot_create_or_revoke_keys(tenant_a, tenant_b):
    from delivery.api.keys import api_key_create

    key, _ = api_key_create(company=tenant_a.company, actor=tenant_a.owner, name="x",
                            scope="read")
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    assert member.post(PAGE, {"name": "m", "scope": "write"}).status_code == 403
    assert member.post(f"{PAGE}{key.pk}/revoke/", {"confirm": "yes"}).status_code == 403
    assert outsider.post(PAGE, {"name": "o", "scope": "write"}).status_code == 404
    assert outsider.post(f"{PAGE}{key.pk}/revoke/", {"confirm": "yes"}).status_code == 404
    assert outsider.post(f"/c/bravo/admin/api-keys/{key.pk}/revoke/", {"confirm": "yes"}).status_code == 404
    assert db_fingerprint() == before
