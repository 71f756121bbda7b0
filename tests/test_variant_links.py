"""Signed /h/ links: a token whose claims have the wrong types, or that names what is gone,
is a 404, never a server error."""

from __future__ import annotations

import random
import time
from unittest import mock

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.test import Client

from delivery.variants import _SALT, FORMATS, SHAPES, SIZES, Variant, variant_url, variant_url_maker
from generation.models import Headshot

from .helpers import candidate_for


@pytest.fixture
def headshot(tenant_a) -> Headshot:
    candidate = candidate_for(tenant_a.member)
    return Headshot.objects.create(company=tenant_a.company, membership=tenant_a.member,
                                   candidate=candidate)


def _claims(headshot: Headshot, **changes) -> dict:
    return {"c": headshot.company_id, "h": headshot.pk, "k": headshot.candidate_id, "s": 256,
            "sh": "square", "f": "png", "e": int(time.time()) + 300, **changes}


def _get(token: str) -> int:
    return Client(raise_request_exception=False).get(f"/h/{token}/").status_code


def test_a_genuine_link_serves_the_image(headshot):
    url = variant_url(headshot, Variant(size=256), absolute=False)
    assert Client().get(url).status_code == 200
    # A link an earlier version signed compressed still serves until it expires.
    assert _get(signing.dumps(_claims(headshot), salt=_SALT, compress=True)) == 200


def test_a_page_of_links_signs_exactly_as_signing_dumps(settings):
    # variant_url_maker signs a page's tokens with its key derived once (delivery/variants.py):
    # every token must be signing.dumps's, byte for byte, whatever the ids.
    rng = random.Random(19)
    ids = [1, 9, 10, 99, 2**31, 2**63 - 1, 1111111111, 10**12, 123456789]
    settings.API_IMAGE_URL_TTL_SECONDS = 3600
    for round_ in range(400):
        variant = Variant(size=rng.choice(SIZES), shape=rng.choice(SHAPES),
                          format=rng.choice(list(FORMATS)))
        ttl = rng.choice([None, 1, 300, 86_400 * 7])
        now = rng.choice([1_700_000_000.0, 1_765_000_000.9, 4_000_000_000.5, 61.0])
        claims = [rng.choice(ids) if round_ % 3 == 0 else rng.randrange(1, 2**rng.randrange(1, 64))
                  for _ in range(3)]
        with mock.patch("time.time", return_value=now):
            url = variant_url_maker(variant, ttl=ttl, absolute=round_ % 2 == 0)(
                company_id=claims[0], headshot_id=claims[1], candidate_id=claims[2])
            expected = signing.dumps(
                {"c": claims[0], "h": claims[1], "k": claims[2], "s": variant.size,
                 "sh": variant.shape, "f": variant.format,
                 "e": int(now) + (3600 if ttl is None else ttl)}, salt=_SALT)
        assert url.endswith(f"/h/{expected}/"), (claims, variant, ttl, now)


def test_a_link_for_ids_that_are_no_plain_int_is_signed_by_signing_itself():
    with mock.patch("time.time", return_value=1_765_000_000.0):
        url = variant_url_maker(Variant(), ttl=60, absolute=False)(
            company_id=True, headshot_id=2, candidate_id=3)
        expected = signing.dumps({"c": True, "h": 2, "k": 3, "s": 1024, "sh": "look",
                                  "f": "jpeg", "e": 1_765_000_060}, salt=_SALT)
    assert url.endswith(f"/h/{expected}/")


@pytest.mark.parametrize("changes", [
    {"c": "1"}, {"c": None}, {"c": [1]}, {"c": 2**64}, {"c": True}, {"h": 1.5},
    {"h": {"x": 1}}, {"k": "abc"}, {"k": -1}, {"s": "256"}, {"s": 2**80}, {"s": None},
    {"sh": 5}, {"sh": ["square"]}, {"f": None}, {"f": {"png": 1}}, {"e": "later"},
    {"e": None}, {"e": 10**400}, {"e": 1.5e308},
])
def test_claims_of_the_wrong_type_are_a_404(headshot, changes):
    token = signing.dumps(_claims(headshot, **changes), salt=_SALT, compress=True)
    assert _get(token) == 404


@pytest.mark.parametrize("claims", [[1, 2, 3], "a string", 12, None, {}])
def test_claims_that_are_no_object_are_a_404(claims):
    assert _get(signing.dumps(claims, salt=_SALT)) == 404


def test_a_link_to_a_file_erased_meanwhile_is_a_404(headshot):
    token = signing.dumps(_claims(headshot), salt=_SALT, compress=True)
    default_storage.delete(headshot.candidate.image_key)
    assert _get(token) == 404


def test_a_token_that_is_no_token_is_a_404(db):
    for token in ("x", "x" * 5000, "e30:1:2", ".eJwLy:sig:sig", "%FF"):
        assert _get(token) == 404
